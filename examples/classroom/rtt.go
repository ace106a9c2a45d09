package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/nfqdelay"
)

// The added round trip's bounds: below minRTT a timer's lateness is most
// of it; above maxRTT it is no campus.
const (
	minRTT = 100 * time.Microsecond
	maxRTT = time.Second
)

// delayCommand is the hidden first argument that makes the classroom
// binary a packet releaser: run by ip netns exec in a node's namespace,
// it holds each packet that enters the node for half the added round trip.
const delayCommand = "__nfqdelay"

// releaserReady must come from every releaser within this long.
const releaserReady = 30 * time.Second

// delayReport is a releaser's line on stdout: ready once its queue is
// bound, its stats once stopped.
type delayReport struct {
	Event string          `json:"event"` // ready or stopped
	Stats *nfqdelay.Stats `json:"stats,omitempty"`
}

// delayMain is a releaser. It binds NFQUEUE delayQueue of the namespace
// it runs in, says so, and holds every packet the plan's rule queues until
// its stdin closes (the classroom stops it after its nodes) or SIGTERM.
// It ignores SIGINT and SIGHUP, which a terminal sends the whole process
// group: the classroom handles them, and stops its releasers last, so
// that no node loses its network while it stops.
func delayMain(args []string) int {
	fs := flag.NewFlagSet("classroom "+delayCommand, flag.ContinueOnError)
	hold := fs.Duration("hold", 0, "hold each packet this long")
	maxLen := fs.Uint("maxlen", nfqdelay.DefaultMaxLen, "queue at most this many packets; the kernel drops the rest")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// One thread does it all: each packet wakes the releaser twice (in,
	// then out), and on one P those wakes hand off no work between
	// threads.
	runtime.GOMAXPROCS(1)
	signal.Ignore(os.Interrupt, syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	enc := json.NewEncoder(os.Stdout)
	stats, err := nfqdelay.Run(ctx, nfqdelay.Config{Queue: delayQueue, Hold: *hold, MaxLen: uint32(min(*maxLen, 1<<32-1)),
		Ready: func() { _ = enc.Encode(delayReport{Event: "ready"}) }})
	_ = enc.Encode(delayReport{Event: "stopped", Stats: &stats})
	if err != nil {
		fmt.Fprintf(os.Stderr, "classroom releaser: %v\n", err)
		return 1
	}
	return 0
}

// delayStats are what the releasers of a run did.
type delayStats struct {
	Hold       float64 `json:"hold_seconds"` // each packet that entered a node was held this long
	Releasers  int     `json:"releasers"`    // one per node
	CPUSeconds float64 `json:"cpu_seconds"`  // user+sys of the releaser processes
	// SysSeconds is the part of CPUSeconds in the kernel: the system
	// calls, and the delivery of each packet released, which runs in the
	// releaser's context (TCP's receive path, and what it sends in
	// reply), where without -rtt it runs in the kernel's softirq.
	SysSeconds float64 `json:"sys_seconds"`
	nfqdelay.Stats
}

// releasers are a run's packet releasers, one per node, from
// startReleasers to stop.
type releasers struct {
	procs    []*releaser
	hold     time.Duration
	failed   chan error // the first releaser that stopped unasked
	stopping atomic.Bool
	once     sync.Once
	stats    delayStats
}

// releaser is one node's.
type releaser struct {
	node   int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	exited chan struct{}
	// Set before exited closes:
	stats    nfqdelay.Stats
	cpu, sys float64
	err      error
}

// startReleasers starts a releaser (exe, the classroom) in every node's
// namespace of net, each holding packets for half of p's added round
// trip, and waits until each has bound its queue. Its caller must stop
// them, after the nodes; until then failed reports the first that stops.
func startReleasers(ctx context.Context, net *tcNetwork, exe string, p params) (*releasers, error) {
	hold := time.Duration(p.RTT * float64(time.Second) / 2)
	rs := &releasers{hold: hold, failed: make(chan error, 1)}
	for node := range net.plan.links {
		r, err := rs.start(net, exe, node, nfqdelay.MaxLen(net.plan.links[node].down, hold))
		if err != nil {
			rs.stop()
			return nil, err
		}
		rs.procs = append(rs.procs, r)
	}
	timeout := time.NewTimer(releaserReady)
	defer timeout.Stop()
	for _, r := range rs.procs {
		select {
		case <-r.ready:
		case <-r.exited:
			rs.stop()
			return nil, fmt.Errorf("-rtt: the packet releaser of node %d stopped before it was ready: %v", r.node, r.err)
		case <-timeout.C:
			rs.stop()
			return nil, fmt.Errorf("-rtt: the packet releaser of node %d was not ready within %v", r.node, releaserReady)
		case <-ctx.Done():
			rs.stop()
			return nil, context.Cause(ctx)
		}
	}
	return rs, nil
}

func (rs *releasers) start(net *tcNetwork, exe string, node int, maxLen uint32) (*releaser, error) {
	ns := net.plan.nodeNS(node)
	cmd := exec.Command(net.ip, "netns", "exec", ns, exe, delayCommand,
		"-hold", rs.hold.String(), "-maxlen", strconv.FormatUint(uint64(maxLen), 10))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("-rtt: starting the packet releaser in %s: %w", ns, err)
	}
	r := &releaser{node: node, cmd: cmd, stdin: stdin, ready: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		readied := false
		for sc.Scan() {
			var rep delayReport
			if json.Unmarshal(sc.Bytes(), &rep) != nil {
				continue
			}
			switch {
			case rep.Event == "ready" && !readied:
				readied = true
				close(r.ready)
			case rep.Event == "stopped" && rep.Stats != nil:
				r.stats = *rep.Stats
			}
		}
		err := cmd.Wait()
		if msg := lastLine(stderr.String()); err != nil && msg != "" {
			err = fmt.Errorf("%s (%v)", msg, err)
		}
		r.err, r.cpu = err, processCPUSeconds(cmd.ProcessState)
		if ps := cmd.ProcessState; ps != nil {
			r.sys = ps.SystemTime().Seconds()
		}
		close(r.exited)
		if !rs.stopping.Load() {
			if err == nil {
				err = errors.New("it exited")
			}
			select {
			case rs.failed <- fmt.Errorf("the packet releaser of node %d (in %s) stopped, and with it the node's network: %v", node, ns, err):
			default:
			}
		}
	}()
	return r, nil
}

// stop stops every releaser, by closing its stdin, and waits for them:
// within stopGrace, then it kills the rest. It returns their stats, and
// why any failed; later calls return the same stats.
func (rs *releasers) stop() (delayStats, error) {
	var errs []error
	rs.once.Do(func() {
		rs.stopping.Store(true)
		for _, r := range rs.procs {
			r.stdin.Close()
		}
		deadline := time.Now().Add(stopGrace)
		rs.stats = delayStats{Hold: rs.hold.Seconds(), Releasers: len(rs.procs)}
		for _, r := range rs.procs {
			grace := time.NewTimer(time.Until(deadline))
			select {
			case <-r.exited:
			case <-grace.C:
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
			grace.Stop()
			rs.stats.CPUSeconds += r.cpu
			rs.stats.SysSeconds += r.sys
			rs.stats.Add(r.stats)
			if r.err != nil {
				errs = append(errs, fmt.Errorf("the packet releaser of node %d: %v", r.node, r.err))
			}
		}
		rs.stats.CPUSeconds, rs.stats.SysSeconds = round(rs.stats.CPUSeconds), round(rs.stats.SysSeconds)
	})
	return rs.stats, errors.Join(errs...)
}

// rttOf is seconds as a duration, to the microsecond.
func rttOf(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second)).Round(time.Microsecond)
}

// printDelay says what the releasers did and cost, if there were any.
func (r *result) printDelay(b io.Writer) {
	d := r.Delay
	if d == nil {
		return
	}
	share := per(d.CPUSeconds, d.CPUSeconds+r.CPUSeconds)
	fmt.Fprintf(b, "added RTT:      %v between any two nodes: each packet into a node held %v (NFQUEUE, %d releasers)\n",
		rttOf(r.RTT), rttOf(d.Hold), d.Releasers)
	fmt.Fprintf(b, "releasers:      %.1fs CPU, %.1fs of it in the kernel (%.0f%% of theirs and the nodes'), %d packets in %d verdicts, at most %d held; %d dropped (queue full), %d undelivered (socket full); released at most %v late\n",
		d.CPUSeconds, d.SysSeconds, 100*share, d.Packets, d.Verdicts, d.MaxHeld, d.Dropped, d.Undelivered, rttOf(d.MaxLate))
}
