package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/classweb"
	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// nodeCommand is the hidden first argument that makes the classroom binary
// run one node, the seeder or a leecher, for its parent.
const nodeCommand = "__node"

// report is what a node tells the classroom: one JSON line on stdout when
// it is a process.
type report struct {
	Event      string  `json:"event"` // started, serving, joined, resolved, first, progress, done or stopped
	Infohash   string  `json:"infohash,omitempty"`
	Invite     string  `json:"invite,omitempty"`     // the seeder's, for every leecher
	Bytes      int64   `json:"bytes,omitempty"`      // content verified
	Seconds    float64 `json:"seconds,omitempty"`    // from Fetch to done (resolved: to the manifest found; first: to the first piece)
	Downloaded int64   `json:"downloaded,omitempty"` // piece payload in
	Uploaded   int64   `json:"uploaded,omitempty"`   // piece payload out
	// Peers is how many peers the node has a connection with (done and
	// stopped), by its p2pshare_peers_connected metric; 0 if it cannot tell.
	Peers int `json:"peers,omitempty"`
	// Links is how many peers the node trades pieces with (done): the
	// rest of its connections are for lookups and the class's control.
	Links int `json:"links,omitempty"`
	// Opened is how many connections the node opened and accepted since
	// it started (done and stopped): a class that cuts and redials shows
	// here.
	Opened int `json:"opened,omitempty"`
	// HTTP is where the seeder serves the teacher's page (serving), if
	// it was asked to.
	HTTP string `json:"http,omitempty"`
}

// nodeOptions configure one node; args turns them back into the flags the
// node command parses.
type nodeOptions struct {
	role           string // seeder or leecher
	file           string // seeder: what to share
	infohash, out  string // leecher: what to fetch, and where
	invites        int    // seeder: how many leechers its invite admits
	invite         string // leecher: the seeder's invite to its network
	listen         string // the multiaddr to listen on; loopback if empty
	up, down       flagx.ByteRate
	budget         float64 // seeder: ShareOptions.UploadBudget
	reportInterval time.Duration
	http           string // seeder: serve the teacher's page on this address
}

func (o *nodeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.role, "role", "", "seeder or leecher")
	fs.StringVar(&o.file, "file", "", "seeder: the file to share")
	fs.StringVar(&o.infohash, "infohash", "", "leecher: the share to fetch")
	fs.StringVar(&o.out, "out", "", "leecher: where to write it")
	fs.IntVar(&o.invites, "invites", 1, "seeder: how many leechers its invite admits")
	fs.StringVar(&o.invite, "invite", "", "leecher: the seeder's invite to its network")
	fs.StringVar(&o.listen, "listen", "", "the multiaddr to listen on (default /ip4/127.0.0.1/tcp/0)")
	fs.Var(&o.up, "up", "upload cap in bytes/s")
	fs.Var(&o.down, "down", "download cap in bytes/s")
	fs.Float64Var(&o.budget, "budget", 0, "seeder: copies of the file to upload before leaving the class to itself")
	fs.DurationVar(&o.reportInterval, "report", time.Second, "least time between progress reports")
	fs.StringVar(&o.http, "http", "", "seeder: serve the teacher's page on this address")
}

func (o *nodeOptions) args() []string {
	return []string{"-role", o.role, "-file", o.file, "-infohash", o.infohash, "-out", o.out,
		"-invites", strconv.Itoa(o.invites), "-invite", o.invite, "-listen", o.listen, "-up", o.up.String(), "-down", o.down.String(),
		"-budget", strconv.FormatFloat(o.budget, 'g', -1, 64), "-report", o.reportInterval.String(), "-http", o.http}
}

// nodeMain runs a node as a child process. A leecher fetches once a line
// arrives on its stdin. It stops on SIGINT or SIGTERM, or when its stdin
// closes: how the parent asks it to, portably, and what happens when the
// parent dies.
func nodeMain(args []string) int {
	fs := flag.NewFlagSet("classroom "+nodeCommand, flag.ContinueOnError)
	var o nodeOptions
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		if sc.Scan() {
			close(begin)
			for sc.Scan() {
			}
		}
		stop()
	}()
	enc := json.NewEncoder(os.Stdout)
	err := runNode(ctx, o, begin, func(r report) { _ = enc.Encode(r) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "classroom %s: %s\n", o.role, console.Line(err))
		return 1
	}
	return 0
}

// runNode runs a seeder or a leecher until ctx ends, telling emit what
// happens: "started" at once, so that the classroom can tell a process's
// start from its join; a leecher reports "joined" and fetches once begin
// closes. emit is called from runNode's goroutine only.
func runNode(ctx context.Context, o nodeOptions, begin <-chan struct{}, emit func(report)) error {
	emit(report{Event: "started"})
	listen := o.listen
	if listen == "" {
		listen = "/ip4/127.0.0.1/tcp/0"
	}
	addr, err := ma.NewMultiaddr(listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %v", listen, err)
	}
	cfg := p2pshare.Config{
		ListenAddrs: []ma.Multiaddr{addr},
		// The seeder starts a network of its own; the leechers join it.
		Invite:        o.invite,
		NewNetwork:    o.role == "seeder" && o.invite == "",
		UploadLimit:   int64(o.up),
		DownloadLimit: int64(o.down),
	}
	sw, err := p2pshare.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer sw.Close()
	switch o.role {
	case "seeder":
		return seed(ctx, sw, o, emit)
	case "leecher":
		emit(report{Event: "joined"})
		select {
		case <-begin:
		case <-ctx.Done():
			return nil
		}
		return leech(ctx, sw, o, emit)
	}
	return fmt.Errorf("unknown -role %q", o.role)
}

// seed shares the file and reports how much it has uploaded, every
// reportInterval while that changes, and once more when ctx ends: the
// seeder's upload over F is the classroom's measure of how little of the
// scarcest upload went to duplicates.
func seed(ctx context.Context, sw *p2pshare.Swarm, o nodeOptions, emit func(report)) error {
	ih, err := sw.Share(ctx, o.file, p2pshare.ShareOptions{UploadBudget: o.budget})
	if err != nil {
		return err
	}
	inv, err := sw.Invite(p2pshare.InviteOptions{Uses: o.invites})
	if err != nil {
		return err
	}
	served := ""
	if o.http != "" {
		srv, err := classweb.Listen(ctx, o.http, classweb.Loopback(classweb.Handler(sw, ih), false))
		if err != nil {
			return fmt.Errorf("-http: %w", err)
		}
		defer srv.Close()
		served = srv.Addr().String()
	}
	emit(report{Event: "serving", Infohash: ih.String(), Invite: inv, HTTP: served})
	tick := time.NewTicker(o.reportInterval)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-tick.C:
			if p, ok := sw.Progress(ih); ok && p.Uploaded != last {
				last = p.Uploaded
				emit(report{Event: "progress", Uploaded: p.Uploaded})
			}
		case <-ctx.Done():
			p, _ := sw.Progress(ih)
			held, opened := connections(sw)
			emit(report{Event: "stopped", Uploaded: p.Uploaded, Peers: held, Opened: opened})
			return nil
		}
	}
}

func leech(ctx context.Context, sw *p2pshare.Swarm, o nodeOptions, emit func(report)) error {
	ih, err := p2pshare.ParseInfohash(o.infohash)
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := sw.Fetch(ctx, ih, p2pshare.FetchOptions{Out: o.out})
	if err != nil {
		return err
	}
	defer d.Close()
	emit(report{Event: "resolved", Seconds: time.Since(start).Seconds()})
	first := false
	waitc := make(chan error, 1)
	go func() { waitc <- d.Wait(ctx) }()
	events := d.Events()
	var last time.Time
	for {
		select {
		case e, ok := <-events:
			if ok && e.Kind == p2pshare.EventPiece && !first {
				first = true
				emit(report{Event: "first", Seconds: time.Since(start).Seconds()})
			}
			if !ok {
				events = nil
			} else if now := time.Now(); e.Kind == p2pshare.EventProgress && now.Sub(last) >= o.reportInterval {
				last = now
				emit(report{Event: "progress", Bytes: e.Progress.Bytes})
			}
		case err := <-waitc:
			if err != nil && ctx.Err() != nil {
				return errors.New("stopped before the download completed")
			}
			if err != nil {
				return err
			}
			p := d.Progress()
			held, opened := connections(sw)
			emit(report{Event: "done", Bytes: p.Bytes, Seconds: time.Since(start).Seconds(),
				Downloaded: p.Downloaded, Uploaded: p.Uploaded, Peers: held, Links: p.Peers, Opened: opened})
			// Seed until the classroom ends, then say how much went out.
			<-ctx.Done()
			p = d.Progress()
			held, opened = connections(sw)
			emit(report{Event: "stopped", Bytes: p.Bytes, Downloaded: p.Downloaded, Uploaded: p.Uploaded, Peers: held, Opened: opened})
			return nil
		}
	}
}

// connections is how many peers sw has a connection with, and how many
// connections it has opened and accepted since it started, read from its
// metrics as an operator's dashboard would; 0 where they do not say.
func connections(sw *p2pshare.Swarm) (held, opened int) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(sw.Metrics()); err != nil {
		return 0, 0
	}
	families, err := reg.Gather()
	if err != nil {
		return 0, 0
	}
	for _, f := range families {
		switch f.GetName() {
		case "p2pshare_peers_connected":
			if len(f.GetMetric()) == 1 {
				held = int(f.GetMetric()[0].GetGauge().GetValue())
			}
		case "p2pshare_connections_opened_total":
			for _, m := range f.GetMetric() {
				opened += int(m.GetCounter().GetValue())
			}
		}
	}
	return held, opened
}
