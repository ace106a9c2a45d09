// Command leecher fetches one share from a p2pshare network, serving its
// pieces to the other members while it downloads, and seeds it afterwards.
//
//	leecher -invite STRING|@FILE -infohash ID -out PATH [-check] [-name NAME] [-listen MULTIADDR] [-bootstrap MULTIADDR]
//	        [-up RATE] [-down RATE] [-json] [-exit-when-done] [-timeout DUR] [-stall-timeout DUR]
//	        [-data DIR] [-metrics ADDR [-metrics-remote]] [-log-level debug|info|warn|error]
//
// -invite (a string, or @FILE holding it) is what the network's bootstrap
// printed; a node whose data folder already holds its membership needs
// none.
//
// The node keeps its identity and membership in a data folder, so that
// running the same command again — after Ctrl-C, say — goes on as the same
// member, under the same -name, without using the invite again. By default
// it is a folder per network under the user's configuration folder
// (os.UserConfigDir()/p2pshare/leecher/<network>, the network told by the
// invite, or the only one there without -invite); -data names another. Two
// leechers at once on one folder are refused: a second download from the
// same network at the same time needs a -data of its own.
//
// On a terminal it redraws a progress line on stderr. With -json it writes
// JSON lines on stdout instead of the plain summary:
//
//	{"event":"start","infohash":…,"name":…,"total":…,"pieces":…,"path":…,"lookup_seconds":…,"peer":…,"addrs":[…],"metrics":…}
//	{"event":"progress","bytes":…,"total":…,"pieces":…,"peers":…,"down_rate":…,"up_rate":…,"uploaded":…}
//	{"event":"waiting","for":…,"pieces":…,"peers":…}
//	{"event":"resumed","pieces":…,"peers":…}
//	{"event":"done","seconds":…,"bytes":…,"downloaded":…,"uploaded":…,"path":…}
//
// "peer" is this node's peer ID and "addrs" the multiaddrs it listens on,
// each ending in /p2p/<peer>, for a tool that wants to reach it. "metrics" is where -metrics serves Prometheus metrics (http://ADDR/metrics),
// if it was given: a loopback address (":9100" is 127.0.0.1:9100) unless
// -metrics-remote is given too. "seconds" runs from the start of the lookup to completion.
// A download that has received no piece data for a few seconds says what
// it waits for ("for": "no holder reachable", "every holder banned" — each
// holder found sent pieces that failed verification — or "holders send
// nothing"), on the progress line and as a "waiting" event; "resumed"
// follows when data flows again. Meanwhile it keeps looking for holders.
// After done the leecher seeds until SIGINT or SIGTERM, or exits at once
// with -exit-when-done.
//
// An existing -out is refused, unless -check: then the leecher verifies
// every piece of it against the share, on every core, and seeds it (a
// finished download after a restart seeds again after one read of the
// file, not another download), saying "checked …" where a fetch says
// "fetched …" (-json: a "start" and a "done" event with "downloaded": 0).
// It never writes to -out: a copy of another size, or with pieces that
// fail verification, is refused, naming how many pieces matched and the
// first that did not. If -out does not exist, -check fetches as usual.
//
// Two limits bound how long it tries. -timeout bounds joining the network
// and, once joined, the lookup of the share's description, each on its own;
// it does not bound the download. A bootstrap that has the teacher approve
// each newcomer holds the join meanwhile; the leecher says so on stderr
// ("leecher: the network's bootstrap is waiting for the teacher to
// approve …"), and the wait counts against -timeout. -stall-timeout bounds how long the
// download may receive no piece data at all: slow data is not a stall, as
// every piece that arrives restarts the clock; 0 waits for ever. Nothing
// bounds the download as a whole. An interrupted or stalled download stays
// on disk and resumes on the next run with the same -out. On failure it
// prints one line, "leecher: <reason>", on stderr, with -json also an
// event
//
//	{"event":"error","code":…,"kind":…,"error":…}
//
// on stdout, and exits with a status that tells the kind of failure (-h
// lists them).
//
// Every flag may come from the environment instead, P2PSHARE_ and its name
// in capitals (P2PSHARE_INVITE for -invite): an invite there does not show
// in ps. The command line wins. A first Ctrl-C stops cleanly, saying so; a
// second quits at once. Log lines go to stderr at -log-level and above
// (error by default).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/datadir"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/examples/internal/metricsweb"
)

const usage = `usage: leecher -invite STRING|@FILE -infohash ID -out PATH [-check] [-name NAME] [-listen MULTIADDR]
        [-bootstrap MULTIADDR] [-up RATE] [-down RATE] [-json] [-exit-when-done] [-timeout DUR] [-stall-timeout DUR]
        [-data DIR] [-metrics ADDR [-metrics-remote]] [-log-level LEVEL]`

type options struct {
	invite, name       string
	bootstrap          flagx.Peers
	infohash, out      string
	listen             flagx.Multiaddr
	data               string
	metrics            string
	metricsRemote      bool
	up, down           flagx.ByteRate
	json, exitWhenDone bool
	checkOut           bool // -check
	timeout, stall     time.Duration
	logLevel           *console.LogLevel
	checked            bool // the flags passed check: errors are the run's
}

func main() {
	ctx, stop := console.Interrupts("leecher", os.Stderr, os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) int {
	fs := flag.NewFlagSet("leecher", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.invite, "invite", "", "the invite the network's bootstrap printed (`STRING`, or @FILE to read it); required unless -data already holds this node's membership")
	fs.StringVar(&o.name, "name", "", "member `name` to ask for (a roll number, say); empty is one made from the peer ID")
	fs.Var(&o.bootstrap, "bootstrap", "further members to reach the network through, a `multiaddr` ending in /p2p/<peer ID>; repeat or comma-separate")
	fs.StringVar(&o.infohash, "infohash", "", "the share's infohash, as the seeder printed it (required)")
	fs.StringVar(&o.out, "out", "", "`path` to write the share to; it must not exist yet, unless -check (required)")
	fs.BoolVar(&o.checkOut, "check", false, "if -out exists, verify every piece of it against the share and seed it (a finished download after a restart), never writing to it; a copy that differs is refused, saying how much matched. If -out does not exist, fetch as usual")
	o.listen.Addr = ma.StringCast("/ip4/0.0.0.0/tcp/0")
	fs.Var(&o.listen, "listen", "`multiaddr` to listen on")
	fs.Var(&o.up, "up", "upload cap, a `rate` in bytes/s: 1000000, 8M (x1000) or 8MiB (x1024); 0 is none")
	fs.Var(&o.down, "down", "download cap, a `rate` like -up; 0 is none")
	fs.BoolVar(&o.json, "json", false, "write JSON-lines events on stdout")
	fs.BoolVar(&o.exitWhenDone, "exit-when-done", false, "exit once the download completes instead of seeding")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "how long joining the network may take, and then how long to look for the share before giving up; it does not bound the download")
	fs.DurationVar(&o.stall, "stall-timeout", 5*time.Minute, "how long the download may receive no piece data before it gives up, saying why (slow data is not a stall); 0 waits for ever")
	fs.StringVar(&o.data, "data", "", "`folder` keeping the node's identity and membership across runs (default: one per network in "+datadir.Where("leecher")+")")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `address` (host:port; :PORT is 127.0.0.1:PORT), at /metrics")
	fs.BoolVar(&o.metricsRemote, "metrics-remote", false, "let other machines than this one read -metrics (a loopback address is required without it)")
	o.logLevel = console.LogLevelFlag(fs)
	return console.Main(fs, args, stderr, usage, exitCodes,
		func() error { return o.reportError(stdout, o.check(fs)) },
		func() error { return o.reportError(stdout, leech(ctx, o, stdout, stderr)) })
}

// exitCodes is the -h list of the leecher's exit statuses.
var exitCodes = console.ExitCodes("bad_invite", "invite_expired", "invite_used_up", "name_taken", "refused",
	"wrong_network", "revoked", "bad_infohash", "not_found", "stalled", "out_exists", "mismatch", "data_in_use", "interrupted")

// reportError writes err, if any, as a JSON "error" event with -json, and
// returns it.
func (o *options) reportError(stdout io.Writer, err error) error {
	if err == nil || !o.json {
		return err
	}
	e := errorEvent{Event: "error", Code: 2, Kind: "usage", Error: console.Line(err)}
	if o.checked {
		x := console.ExitOf(err)
		e.Code, e.Kind = x.Code, x.Kind
	}
	(&reporter{stdout: stdout}).emit(e)
	return err
}

func (o *options) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.infohash == "":
		return errors.New("-infohash is required")
	case o.out == "":
		return errors.New("-out is required")
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v is not positive", o.timeout)
	case o.stall < 0:
		return fmt.Errorf("-stall-timeout %v is negative", o.stall)
	case o.metricsRemote && o.metrics == "":
		return errors.New("-metrics-remote needs -metrics")
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
	o.checked = true
	return nil
}
