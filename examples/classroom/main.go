// Command classroom is the one-command local demo and benchmark of p2pshare:
// it starts a seeder and N leechers on loopback, all fetching one random
// file at once, shows their progress, and then compares the makespan with
// the best any schedule could do, T* = max(F/U_s, F/D_min, N·F/(U_s+ΣU_i)).
//
//	go run ./examples/classroom [-scenario s2|s3|s4|quiz] [-n 30] [-size 128MiB]
//	        [-seed-up 8MiB] [-up 4MiB | -up 20x1MiB,20x6MiB] [-down 8MiB]
//	        [-shaping app|tc [-rtt 20ms]] [-go-ahead=false] [-scale 1] [-timeout 10m] [-settle 0s]
//	        [-inprocess] [-keep] [-json-out PATH] [-svg PATH] [-http ADDR]
//
// Each node is a process (this binary, re-run with a hidden first argument)
// unless -inprocess runs them all as goroutines of this one. With -shaping
// app, the default, each node is told its caps and keeps them with token
// buckets. With -shaping tc (Linux, as root) no node is told anything: each
// runs in a network namespace of its own, on a veth pair to a bridge, and
// the kernel enforces its caps with HTB, as a campus link would; -rtt adds
// a round trip between any two nodes: an iptables rule in each node's
// namespace sends every packet that enters it to an NFQUEUE, where a
// releaser (this binary again, one per node) holds it for half the round
// trip.
//
// The leechers join, then fetch at one go-ahead; with -go-ahead=false each
// fetches as soon as it has joined, as a class that starts together does.
// The summary goes to stdout: completion times from the go-ahead and from
// the leechers' spawn, each phase from spawn to done, makespan against T*
// and the client-server time, the seeder's upload over F, connections per
// student, and the CPU time the nodes used; -json-out writes it as JSON and
// -svg as a chart of peers done over time. It exits non-zero if any leecher
// failed or fetched content that differs from the source.
//
// With -http the seeder serves the teacher's page for the demo class, as
// the seeder command's -http does: the class's progress live in a browser
// (http://ADDR/, which it prints on stderr) and as JSON (/status.json),
// to this machine only, while the class runs.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

const usage = `usage: classroom [-scenario s2|s3|s4|quiz] [-n 30] [-size 128MiB] [-seed-up 8MiB]
        [-up 4MiB | -up 20x1MiB,20x6MiB] [-down 8MiB] [-shaping app|tc [-rtt 20ms]] [-go-ahead=false]
        [-scale 1] [-timeout 10m] [-settle 0s] [-seed-budget 0] [-inprocess] [-keep]
        [-json-out PATH] [-svg PATH] [-http ADDR]
scenarios (their values apply where no flag overrides them; rates in bytes/s):
`

// options are the flags as given; resolve turns them into params.
type options struct {
	scenario        string
	n               int
	size            flagx.ByteSize
	seedUp          flagx.ByteRate
	up, down        rates
	scale           float64
	timeout         time.Duration
	settle          time.Duration
	goAhead         bool
	shaping         string
	rtt             time.Duration
	seedBudget      float64
	inprocess, keep bool
	jsonOut, svgOut string
	http            string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == nodeCommand {
		os.Exit(nodeMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == delayCommand {
		os.Exit(delayMain(os.Args[2:]))
	}
	// A closed terminal ends the run as Ctrl-C does, so that it stops its
	// nodes and removes what it made; a reader gone from its output (as
	// in classroom | head) only loses the rest of the output, rather than
	// killing the run before it can clean up.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// defaultOptions are S2's parameters.
func defaultOptions() options {
	return options{n: 30, size: 128 * mib, seedUp: 8 * mib, up: uniform(4 * mib), down: uniform(8 * mib),
		scale: 1, timeout: 10 * time.Minute, goAhead: true, shaping: shapingApp}
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.scenario, "scenario", "", "a named class, `name` s2, s3, s4 or quiz, setting what no other flag sets")
	fs.IntVar(&o.n, "n", o.n, "how many leechers")
	fs.Var(&o.size, "size", "the file's `size`: 4000000, 4M (x1000) or 4MiB (x1024)")
	fs.Var(&o.seedUp, "seed-up", "the seeder's upload cap, a `rate` in bytes/s; 0 is none")
	fs.Var(&o.up, "up", "the leechers' upload caps: one `rate` for all, or groups COUNTxRATE,… whose counts add up to -n; 0 is none")
	fs.Var(&o.down, "down", "the leechers' download caps, as for -up")
	fs.Float64Var(&o.scale, "scale", o.scale, "multiply every rate by `x`, when CPU rather than the caps would limit a run")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "give up if the class has not finished by then; unset, at least 10·T*")
	fs.DurationVar(&o.settle, "settle", 0, "wait this long between the last leecher's join and the go-ahead, for the joins' DHT work to end (quiz: 5s)")
	fs.BoolVar(&o.goAhead, "go-ahead", o.goAhead, "hold every fetch until the whole class has joined, then start them at once; false: each leecher fetches as soon as it has joined")
	fs.StringVar(&o.shaping, "shaping", o.shaping, "how the caps are enforced, a `mode`: app, told to each node (token buckets), or tc, by the kernel (HTB), each node in a network namespace of its own and told nothing (Linux, root)")
	fs.DurationVar(&o.rtt, "rtt", 0, "with -shaping tc, add this round-trip `time` between any two nodes: the kernel holds each packet into a node for half of it (iptables NFQUEUE, a releaser per node)")
	fs.Float64Var(&o.seedBudget, "seed-budget", 0, "the seeder uploads about this many `copies` of the file, then leaves the class to itself (0: no budget)")
	fs.BoolVar(&o.inprocess, "inprocess", false, "run every node as a goroutine of this process")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder with the source and the outputs")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the result as JSON to `path`")
	fs.StringVar(&o.svgOut, "svg", "", "also draw peers done over time as an SVG chart at `path`")
	fs.StringVar(&o.http, "http", "", "serve the teacher's page, the class's progress live, on `address` (a loopback host:port; :PORT is 127.0.0.1:PORT) while the class runs")
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) int {
	fs := flag.NewFlagSet("classroom", flag.ContinueOnError)
	o := defaultOptions()
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage, scenarioHelp())
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+console.EnvHelp)
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err == nil {
		err = console.FromEnv(fs, os.LookupEnv)
	}
	var p params
	if err == nil {
		p, err = o.resolve(fs)
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "classroom: %s\n", console.Line(err))
		fs.Usage()
		return 2
	}
	res, err := demo(ctx, o, p, stderr)
	if res != nil {
		res.print(stdout)
		if o.jsonOut != "" {
			if werr := res.writeJSON(o.jsonOut); werr != nil && err == nil {
				err = werr
			}
		}
		if o.svgOut != "" {
			if werr := res.writeSVG(o.svgOut); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err == nil && res.failed() {
		err = fmt.Errorf("%d of %d leechers failed or fetched wrong content", p.Leechers-res.Verified, p.Leechers)
	}
	if err != nil {
		fmt.Fprintf(stderr, "classroom: %s\n", console.Line(err))
		return 1
	}
	return 0
}

// demo makes the file, runs the class and checks the outputs. A nil result
// means there is nothing to summarise.
func demo(ctx context.Context, o options, p params, stderr *os.File) (*result, error) {
	// The network first: it may be refused (no root), before a large
	// source file is written for nothing.
	var net *tcNetwork
	var rel *releasers
	if p.Shaping == shapingTC {
		var err error
		if net, err = openClassNetwork(ctx, p, stderr); err != nil {
			return nil, err
		}
		// class.run has stopped every node by the time this runs, however
		// it ended: a Ctrl-C, SIGTERM or SIGHUP ends ctx, which ends run.
		defer func() {
			if err := net.close(); err != nil {
				fmt.Fprintf(stderr, "classroom: %v\n", err)
			}
		}()
		p.Netns = net.plan.prefix
		if p.RTT > 0 {
			if rel, err = openDelay(ctx, net, p, stderr); err != nil {
				return nil, err
			}
			// After the nodes, before the namespaces go (defers run last
			// first); a run that ends well has stopped them already.
			defer rel.stop()
		}
	}
	dir, err := os.MkdirTemp("", "classroom-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(stderr, "classroom: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	src := filepath.Join(dir, "source.bin")
	sum, err := randomFile(src, p.FileBytes)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		return nil, err
	}
	c := newClass(p, o.timeout, stderr)
	c.http = o.http
	var l launcher = goroutines{events: c.events}
	if !o.inprocess {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program to run its nodes: %w", err)
		}
		l = processes{exe: exe, events: c.events}
		if net != nil {
			l = inNamespaces{processes: processes{exe: exe, events: c.events}, net: net}
		}
	}
	// In one process, the nodes' CPU time is the process's while they
	// run; node processes report their own as they exit.
	var cpu0 float64
	if o.inprocess {
		cpu0 = selfCPUSeconds()
	}
	runCtx := ctx
	if rel != nil {
		// A releaser that stops takes its node's network with it: the run
		// ends, saying so.
		var cancel context.CancelCauseFunc
		runCtx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case err := <-rel.failed:
				cancel(err)
			case <-runCtx.Done():
			}
		}()
	}
	runErr := c.run(runCtx, l, src, filepath.Join(dir, "out"))
	if o.inprocess {
		c.cpu = selfCPUSeconds() - cpu0
	}
	c.verify(sum)
	res := c.result()
	if rel != nil {
		stats, err := rel.stop()
		res.Delay = &stats
		if runErr == nil {
			runErr = err
		}
	}
	return res, runErr
}

// openDelay starts the releasers that add p's round trip in net.
func openDelay(ctx context.Context, net *tcNetwork, p params, stderr io.Writer) (*releasers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to run its packet releasers: %w", err)
	}
	rel, err := startReleasers(ctx, net, exe, p)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "classroom: a releaser in each node's namespace holds every packet into the node %v: +%v round trip\n", rel.hold, 2*rel.hold)
	return rel, nil
}

// randomFile writes size random bytes to path and returns their SHA-256.
func randomFile(path string, size int64) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	h := sha256.New()
	_, err = io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8(seed), size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, fmt.Errorf("writing the source file: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// fileSum is the SHA-256 of the file at path.
func fileSum(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// openClassNetwork makes the network of namespaces for p's class, named
// for this process.
func openClassNetwork(ctx context.Context, p params, stderr io.Writer) (*tcNetwork, error) {
	plan, err := newNetPlan(runPrefix(os.Getpid()), p.SeedUp, p.ups, p.downs)
	if err != nil {
		return nil, err
	}
	plan.delay = p.RTT > 0
	net, err := openTCNetwork(ctx, plan, stderr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "classroom: %d network namespaces %s*, the caps enforced by tc HTB and told to no node\n", len(plan.namespaces()), plan.prefix)
	return net, nil
}
