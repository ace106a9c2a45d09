// Command seeder shares one file or folder with a p2pshare network and
// serves it until interrupted.
//
//	seeder -file PATH [-listen MULTIADDR] [-invite STRING|@FILE] [-invite-uses N]
//	       [-invite-ttl DURATION] [-allow-names FILE] [-approve] [-max-per-address N]
//	       [-coordinators NAMES [-root-key FILE] | -coordinator]
//	       [-up RATE] [-budget COPIES] [-data DIR]
//	       [-http ADDR [-http-remote]] [-metrics ADDR [-metrics-remote]] [-log-level debug|info|warn|error]
//
// With no -invite the seeder is the first node of a new network, its
// bootstrap: it holds the network's CA and admits the members who bring its
// invite. Once it serves, it prints one JSON line on stdout:
//
//	{"infohash":"bafk…","addrs":["/ip4/127.0.0.1/tcp/4001/p2p/12D3…",…],"invite":"p2pshare://…","admission":"open invite: …"}
//
// "admission" says in one line how the bootstrap admits newcomers (on a
// terminal it is shown on stderr too). By default it is an open invite:
// whoever holds the class invite joins, under any name no member holds, so
// one student holding it can join many times under classmates' roll
// numbers. Four options bind names, alone or together:
//
//   - -allow-names FILE: the class invite admits only the names in FILE, one
//     a line (# starts a comment); the bootstrap keeps the list, "allow
//     NAME" adds to it and to FILE, and "allow reload" reads FILE again
//     (to take names off, edit FILE and reload). A seeder started again
//     without -allow-names keeps the list it had.
//   - per-student invites: "invite NAME" prints an invite that admits NAME
//     only, once; while it is outstanding the class invite cannot take
//     NAME. -invite-uses 0 prints no class invite at all.
//   - -approve: each join waits, up to the newcomer's time limit (two
//     minutes at most), for "approve NAME" or "deny NAME"; the newcomer is
//     told it waits. A co-coordinator (-invite … -coordinator) started
//     with -approve is asked too, whichever coordinator the newcomer
//     reached, and the first answer counts: a TA can approve at their own
//     console while the teacher's machine is down.
//   - -max-per-address N: the class invite admits at most N members from
//     one address. Off by default: a class behind one NAT, or a demo on
//     127.0.0.1, is one address.
//
// Co-coordinators keep admitting when the bootstrap is down. A bootstrap
// started with -coordinators NAMES keeps its registry in a coordinator
// group (Raft among the coordinators) and appoints the members of those
// names when they ask; "appoint NAME" on stdin names one more. A seeder
// started with -invite INV -name NAME -coordinator joins, asks, and once
// appointed admits newcomers with the network's invites, signs
// certificates and revocations, and reads the bootstrap's commands on
// stdin too. Joins go on while a majority of the coordinators is up; a
// newcomer whose invite names a bootstrap that is down reaches a
// coordinator given with -bootstrap. A group of two rides out no more
// failures than one: use three or five.
//
// The root key can then go offline: "root export FILE" on the
// bootstrap's stdin writes it to FILE (move it to a USB stick) and removes
// it from -data. The bootstrap admits under a coordinator certificate of
// its own from then on, as the others do, across restarts too.
// Coordinator certificates last 7 days and are renewed by the root: once
// a week, from their third day on, start the bootstrap with -root-key FILE
// for a few minutes, and the coordinators renew (each logs the date its
// certificate ends while it cannot); a coordinator whose certificate has
// ended stops admitting.
//
// With -http the bootstrap serves the teacher's page: the class's progress
// live in a browser (http://ADDR/), and the same as JSON (/status.json).
// The page answers this machine only, and ADDR must be a loopback address
// (":8080" is 127.0.0.1:8080), unless -http-remote is given too: then it
// answers every machine that reaches ADDR (":8080" is every interface),
// and the seeder says so on stderr. With
// -metrics it serves Prometheus metrics on http://ADDR/metrics, to this
// machine only in the same way (-metrics-remote for others). The JSON
// line then also holds "http" and "metrics", the addresses they listen on.
//
// As the bootstrap it also reads commands on stdin:
//
//	revoke NAME|PEER-ID [cancel-invite]   remove a member: every member drops it, and its
//	                                      name and peer ID are refused until lifted;
//	                                      cancel-invite also cancels the invite that admitted it
//	lift NAME|PEER-ID                     lift a revocation: the name and peer may join again
//	invite [USES [TTL]]                   print a new invite
//	invite NAME [TTL]                     print an invite for one student: NAME only, once
//	invite cancel INVITE|TOKEN-ID         cancel an invite: nobody joins with it any more
//	allow NAME                            add NAME to the -allow-names list (and its file)
//	allow reload                          read the -allow-names file again: it is the list now
//	pending                               list the joins waiting for approval (-approve)
//	approve NAME|all                      admit the waiting join of NAME, or all of them
//	deny NAME [REASON]                    refuse the waiting join of NAME, telling it REASON
//	appoint NAME                          let member NAME become a coordinator when it asks (-coordinators)
//	root export FILE                      write the root key to FILE and remove it from -data (-coordinators)
//
// The node keeps its identity — as the bootstrap, the network's CA and
// members too — in a data folder, so that running the same command again
// goes on with the same network: members who joined before come back
// without a new invite. By default it is a folder under the user's
// configuration folder (os.UserConfigDir()/p2pshare/seeder/): one per
// shared file for a bootstrap, one per network and file for a seeder that
// joins with -invite. -data names another. Two seeders at once on one
// folder are refused.
//
// It seeds until SIGINT or SIGTERM, then closes and exits 0. On failure it
// prints one line, "seeder: <reason>", on stderr and exits with a status
// that tells the kind of failure (-h lists them).
//
// Every flag may come from the environment instead, P2PSHARE_ and its name
// in capitals (P2PSHARE_INVITE for -invite): an invite there does not show
// in ps. The command line wins. A first Ctrl-C stops cleanly, saying so; a
// second quits at once. Log lines go to stderr at -log-level and above
// (error by default).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/classweb"
	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/datadir"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/examples/internal/metricsweb"
	"github.com/p2pshare/p2pshare/p2pshare"
)

const usage = "usage: seeder -file PATH [-listen MULTIADDR] [-invite STRING|@FILE] [-invite-uses N] [-invite-ttl DURATION] [-allow-names FILE] [-approve] [-max-per-address N] [-coordinators NAMES [-root-key FILE] | -coordinator] [-up RATE] [-budget COPIES] [-data DIR] [-http ADDR [-http-remote]] [-metrics ADDR [-metrics-remote]] [-log-level LEVEL]"

type options struct {
	file, data    string
	listen        flagx.Multiaddr
	invite, name  string
	inviteUses    int
	inviteTTL     time.Duration
	bootstrap     flagx.Peers
	up            flagx.ByteRate
	budget        float64
	http, metrics string
	httpRemote    bool
	metricsRemote bool
	logLevel      *console.LogLevel
	allowFile     string
	allowNames    []string // read from allowFile; nil without it
	approve       bool
	maxPerAddr    int
	coordinators  flagx.Strings // as bootstrap: the names it appoints coordinators
	coordinator   bool          // as member: ask to be appointed one
	rootKey       string        // as bootstrap: the root key brought back from offline
}

func main() {
	ctx, stop := console.Interrupts("seeder", os.Stderr, os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) int {
	fs := flag.NewFlagSet("seeder", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.file, "file", "", "the `file` or folder to share (required)")
	o.listen.Addr = ma.StringCast("/ip4/0.0.0.0/tcp/0")
	fs.Var(&o.listen, "listen", "`multiaddr` to listen on")
	fs.StringVar(&o.invite, "invite", "", "an invite to join an existing network as one more seeder (`STRING`, or @FILE to read it); none starts a new network, with this node as its bootstrap")
	fs.IntVar(&o.inviteUses, "invite-uses", 100, "as bootstrap: how many members may join with the printed class invite; 0 prints none (per-student invites only: \"invite NAME\" on stdin)")
	fs.StringVar(&o.allowFile, "allow-names", "", "as bootstrap: a `file` of the only names the class invite admits, one a line (# comments); kept with the network")
	fs.BoolVar(&o.approve, "approve", false, "as bootstrap: each join waits for the teacher's \"approve NAME\" or \"deny NAME\" on stdin; as a co-coordinator (-coordinator), where the bootstrap asks for approval, this operator is asked too, and the first answer counts")
	fs.IntVar(&o.maxPerAddr, "max-per-address", 0, "as bootstrap: admit at most `N` members from one address with the class invite (0: no cap; a class behind one NAT is one address)")
	fs.Var(&o.coordinators, "coordinators", "as bootstrap: keep the registry in a coordinator group, and appoint the members of these `names` (comma-separated; \"appoint NAME\" on stdin adds one) when they ask with -coordinator")
	fs.BoolVar(&o.coordinator, "coordinator", false, "with -invite: ask the bootstrap to appoint this seeder a co-coordinator, which admits newcomers and keeps the registry with the others")
	fs.StringVar(&o.rootKey, "root-key", "", "as bootstrap whose root key went offline (\"root export FILE\"): sign with the key in `file` for this run, to appoint coordinators and renew their certificates; it is not copied into -data")
	fs.DurationVar(&o.inviteTTL, "invite-ttl", 24*time.Hour, "as bootstrap: how long the printed invite stays valid")
	fs.StringVar(&o.name, "name", "", "member `name` this node goes by: asked for when joining with -invite, or the bootstrap's own (the class page shows it)")
	fs.Var(&o.bootstrap, "bootstrap", "further members to reach the network through, a `multiaddr` ending in /p2p/<peer ID>; repeat or comma-separate")
	fs.Var(&o.up, "up", "upload cap, a `rate` in bytes/s: 1000000, 8M (x1000) or 8MiB (x1024); 0 is none")
	fs.Float64Var(&o.budget, "budget", 0, "upload about this many `copies` of the file, then serve only what no member holds, leaving the class to itself (0: no budget; near 1.1 keeps a server shared by many classes to its share)")
	fs.StringVar(&o.data, "data", "", "`folder` keeping the node's identity, and a bootstrap's network, across runs (default: one per shared file, and per network with -invite, in "+datadir.Where("seeder")+")")
	fs.StringVar(&o.http, "http", "", "as bootstrap: serve the class's progress page and JSON on `address` (host:port; :PORT is 127.0.0.1:PORT)")
	fs.BoolVar(&o.httpRemote, "http-remote", false, "let other machines than this one see the -http page (it answers this machine only without it)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `address` (host:port; :PORT is 127.0.0.1:PORT), at /metrics")
	fs.BoolVar(&o.metricsRemote, "metrics-remote", false, "let other machines than this one read -metrics (a loopback address is required without it)")
	o.logLevel = console.LogLevelFlag(fs)
	return console.Main(fs, args, stderr, usage,
		console.ExitCodes("bad_invite", "invite_expired", "invite_used_up", "name_taken", "refused", "wrong_network", "revoked", "data_in_use"),
		func() error { return o.check(fs) },
		func() error { return seed(ctx, o, stdout, stderr) })
}

func (o *options) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.file == "":
		return errors.New("-file is required")
	case o.inviteUses < 0:
		return fmt.Errorf("-invite-uses %d: want 0 (no class invite) or more", o.inviteUses)
	case o.maxPerAddr < 0:
		return fmt.Errorf("-max-per-address %d: want 0 (no cap) or more", o.maxPerAddr)
	case o.inviteTTL <= 0:
		return fmt.Errorf("-invite-ttl %v: want a positive duration", o.inviteTTL)
	case o.httpRemote && o.http == "":
		return errors.New("-http-remote needs -http")
	case o.metricsRemote && o.metrics == "":
		return errors.New("-metrics-remote needs -metrics")
	case !(o.budget >= 0) || math.IsInf(o.budget, 0):
		return fmt.Errorf("-budget %v: want 0 (none) or a number of copies above 0", o.budget)
	}
	if o.http != "" {
		addr, err := httpAddr(o.http, o.httpRemote)
		if err != nil {
			return err
		}
		o.http = addr
	}
	if o.metrics != "" {
		addr, err := metricsweb.Addr(o.metrics, o.metricsRemote)
		if err != nil {
			return err
		}
		o.metrics = addr
	}
	inv, err := flagx.ReadArg(o.invite)
	if err != nil {
		return fmt.Errorf("-invite: %w", err)
	}
	o.invite = inv
	if o.invite != "" && len(o.coordinators) > 0 {
		return errors.New("-coordinators is for the bootstrap, and -invite joins an existing network (-coordinator asks to be one of them)")
	}
	if o.invite != "" && (o.allowFile != "" || o.approve && !o.coordinator || o.maxPerAddr > 0) {
		return errors.New("-allow-names, -approve and -max-per-address are for the bootstrap, and -invite joins an existing network (a co-coordinator, -coordinator, may -approve too)")
	}
	if o.allowFile != "" {
		if o.allowNames, err = readAllowNames(o.allowFile); err != nil {
			return err
		}
	}
	return nil
}

// seed joins, shares, announces and serves until ctx ends.
func seed(ctx context.Context, o options, stdout io.Writer, stderr *os.File) error {
	if _, err := os.Stat(o.file); err != nil {
		return fmt.Errorf("cannot share %s: %w", o.file, err)
	}
	dir, err := dataDir(o)
	if err != nil {
		return err
	}
	unlock, err := datadir.Lock(dir)
	if err != nil {
		return fmt.Errorf("-data: %w", err)
	}
	defer unlock()
	log := o.logLevel.Logger(stderr, "seeder")
	log.Debug("starting the node", "data", dir, "listen", o.listen, "bootstrap", o.bootstrap)
	var pending *approvals
	var approve func(context.Context, p2pshare.JoinRequest) (bool, string)
	if o.approve {
		pending = &approvals{out: stderr}
		approve = pending.Approve
	}
	sw, err := p2pshare.New(ctx, p2pshare.Config{
		Logger:      log,
		DataDir:     dir,
		ListenAddrs: []ma.Multiaddr{o.listen.Addr},
		Metrics:     metricsweb.Libp2p(o.metrics != ""),
		Invite:      o.invite,
		// With no -invite and no -bootstrap the seeder starts a network
		// (or, from a -data folder that holds one, goes on with it).
		NewNetwork:     o.invite == "" && len(o.bootstrap) == 0,
		Name:           o.name,
		BootstrapPeers: o.bootstrap,
		UploadLimit:    int64(o.up),
		AllowNames:     o.allowNames,
		Approve:        approve,
		MaxPerAddress:  o.maxPerAddr,
		Coordinators:   coordinatorNames(o.coordinators),
		Coordinator:    o.coordinator,
		RootKeyFile:    o.rootKey,
	})
	if err != nil {
		return err
	}
	defer sw.Close()
	log.Info("node started", "peer", sw.ID(), "addrs", sw.Addrs(), "bootstrap", sw.IsBootstrap())
	if n := len(sw.Coordinators()); o.coordinator && n%2 == 0 {
		fmt.Fprintf(stderr, "seeder: the coordinator group has %d coordinators: it needs %d of them up to admit, so it rides out no more failures than %d would; appoint one more\n", n, n/2+1, n-1)
	}
	var served struct{ http, metrics string }
	if o.metrics != "" {
		srv, err := metricsweb.Serve(ctx, o.metrics, sw)
		if err != nil {
			return fmt.Errorf("-metrics: %w", err)
		}
		defer srv.Close()
		served.metrics = srv.Addr().String()
	}

	opts := p2pshare.ShareOptions{UploadBudget: o.budget}
	var status *console.Status
	if console.IsTerminal(stderr) {
		status = console.NewStatus(stderr)
		opts.Progress = hashProgress(status, time.Now())
	}
	ih, err := sw.Share(ctx, o.file, opts)
	if status != nil {
		status.End("")
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w while hashing", console.ErrInterrupted)
		}
		return err
	}
	log.Info("sharing", "file", o.file, "infohash", ih)
	var invite, mode string
	if sw.IsBootstrap() {
		if o.inviteUses > 0 {
			if invite, err = sw.Invite(p2pshare.InviteOptions{Uses: o.inviteUses, TTL: o.inviteTTL}); err != nil {
				return err
			}
		}
		a := admission{sharedInvite: o.inviteUses > 0, allowList: -1, approve: o.approve, maxPerAddr: o.maxPerAddr}
		if names, ok := sw.AllowNames(); ok {
			a.allowList = len(names)
		}
		mode = a.String()
	}
	if o.http != "" {
		if !sw.IsBootstrap() {
			return errors.New("-http: only the network's bootstrap sees the class, and this seeder joined one (-invite)")
		}
		srv, err := classweb.Listen(ctx, o.http, classweb.Loopback(classweb.Handler(sw, ih), o.httpRemote))
		if err != nil {
			return fmt.Errorf("-http: %w", err)
		}
		defer srv.Close()
		served.http = srv.Addr().String()
		if o.httpRemote {
			fmt.Fprintf(stderr, "seeder: the class page http://%s/ answers other machines too (-http-remote)\n", served.http)
		}
	}
	line, err := json.Marshal(struct {
		Infohash  string         `json:"infohash"`
		Addrs     []ma.Multiaddr `json:"addrs"`
		Invite    string         `json:"invite,omitempty"`
		Admission string         `json:"admission,omitempty"`
		HTTP      string         `json:"http,omitempty"`
		Metrics   string         `json:"metrics,omitempty"`
	}{ih.String(), sw.Addrs(), invite, mode, served.http, served.metrics})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("writing the infohash: %w", err)
	}
	if status != nil {
		if mode != "" {
			fmt.Fprintf(stderr, "seeder: %s\n", mode)
		}
		if served.http != "" {
			fmt.Fprintf(stderr, "the class's progress: http://%s/\n", served.http)
		}
		fmt.Fprintln(stderr, "seeding; interrupt (Ctrl-C) to stop")
	}
	if sw.IsBootstrap() {
		go commands(ctx, &teacher{sw: sw, allowFile: o.allowFile, pending: pending}, os.Stdin, stderr)
	}
	watchUploads(ctx, sw, ih, filepath.Base(o.file), status, log, stderr)
	if err := sw.Close(); err != nil {
		return fmt.Errorf("closing the node: %w", err)
	}
	return nil
}

// watchUploads shows what the seeder sends while it serves, until ctx
// ends: on a terminal, a line redrawn every second; otherwise an info log
// line each minute in which it sent something.
func watchUploads(ctx context.Context, sw *p2pshare.Swarm, ih p2pshare.Infohash, name string, status *console.Status, log *slog.Logger, stderr io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	var logged time.Time
	stopped := false
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			if status != nil {
				status.End("")
			}
			return
		case now = <-t.C:
		}
		p, ok := sw.Progress(ih)
		if !ok {
			if !stopped {
				// The share failed (its file changed on disk: the node
				// logged why); the network stays up for the class.
				stopped = true
				if status != nil {
					status.End("")
				}
				fmt.Fprintf(stderr, "seeder: stopped serving %s (see the error above); the network stays up: interrupt (Ctrl-C) to stop\n", name)
			}
			continue
		}
		if status != nil {
			status.Draw(uploadLine(name, p))
		} else if p.Uploaded != last && now.Sub(logged) >= time.Minute {
			log.Info("uploading", "share", name, "sent", p.Uploaded, "peers", p.Peers, "rate", int64(p.UpRate))
			last, logged = p.Uploaded, now
		}
	}
}

// uploadLine is the seeder's terminal line: what it sent, in bytes and
// copies of the share, its rate and its peers.
func uploadLine(name string, p p2pshare.Progress) string {
	copies := 0.0
	if p.TotalBytes > 0 {
		copies = float64(p.Uploaded) / float64(p.TotalBytes)
	}
	return fmt.Sprintf("seeding %s  sent %s (%.1f copies)  up %s/s  peers %d",
		name, flagx.FormatBytes(p.Uploaded), copies, flagx.FormatBytes(int64(p.UpRate)), p.Peers)
}

// dataDir is the folder the node keeps its identity in: -data, or by
// default the seeder's folder for the file, and with -invite for the
// invite's network and the file.
func dataDir(o options) (string, error) {
	if o.data != "" {
		return o.data, nil
	}
	if o.invite == "" {
		return datadir.ForFile("seeder", o.file)
	}
	inv, err := p2pshare.ParseInvite(o.invite)
	if err != nil {
		return "", fmt.Errorf("-invite: %w", err)
	}
	return datadir.ForFile(filepath.Join("seeder", inv.Network[:16]), o.file)
}

// hashProgress returns a ShareOptions.Progress that redraws the hashing
// progress at most ten times a second.
func hashProgress(status *console.Status, start time.Time) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(last) < 100*time.Millisecond && done < total {
			return
		}
		last = now
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		status.Draw(fmt.Sprintf("hashing %s %5.1f%% %s / %s  %s",
			console.Bar(done, total, console.BarWidth(status.Columns(), 40)), pct,
			flagx.FormatBytes(done), flagx.FormatBytes(total), console.Duration(now.Sub(start))))
	}
}

// httpAddr checks -http's address, filling in the host when it has none:
// loopback, or every interface with -http-remote. Without -http-remote it
// must be a loopback address.
func httpAddr(addr string, remote bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-http %q: want host:port or :port (%v)", addr, err)
	}
	if host == "" && !remote {
		host = "127.0.0.1"
	}
	if !remote && !classweb.IsLoopbackAddr(net.JoinHostPort(host, port)) {
		return "", fmt.Errorf("-http %s is not a loopback address: add -http-remote to show the class page to other machines", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// coordinatorNames is -coordinators for Config.Coordinators: nil (no
// group) unless given.
func coordinatorNames(s flagx.Strings) []string {
	if len(s) == 0 {
		return nil
	}
	return []string(s)
}
