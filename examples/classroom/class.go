package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

// stopGrace bounds how long the nodes get to stop and report their counters.
const stopGrace = 20 * time.Second

// reportEvery is how often nodes report progress, and the classroom samples
// the class's.
const reportEvery = 500 * time.Millisecond

// leecher is what the classroom knows of one leecher.
type leecher struct {
	out        string
	bytes      int64
	done       bool
	doneAt     time.Duration // since the leechers started
	seconds    float64       // its own time from Fetch to done
	resolved   float64       // its own time from Fetch to the manifest found
	first      float64       // its own time from Fetch to the first piece
	spawned    time.Time     // when the classroom started its process
	at         [numPhases]time.Time
	downloaded int64
	uploaded   int64
	peersDone  int     // connections when it was done
	linksDone  int     // links (peers it traded with) when it was done
	peersStop  int     // connections when it was asked to stop
	opened     int     // connections it opened and accepted, by the last report
	cpu        float64 // CPU seconds its process used; 0 in-process
	exited     bool
	err        error
	verified   bool
}

// phase is a step of a leecher's way from spawn to done, timed by the
// classroom as the leecher's reports arrive.
type phase int

const (
	phaseStarted  phase = iota // its process runs: the node's first report
	phaseJoined                // admitted and in the DHT: p2pshare.New returned
	phaseGoAhead               // told to fetch
	phaseResolved              // the manifest found
	phaseFirst                 // the first verified piece
	phaseDone                  // the whole file verified
	numPhases
)

func (p phase) String() string {
	switch p {
	case phaseStarted:
		return "started"
	case phaseJoined:
		return "joined"
	case phaseGoAhead:
		return "go-ahead"
	case phaseResolved:
		return "manifest"
	case phaseFirst:
		return "first piece"
	case phaseDone:
		return "done"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// class runs the seeder and the leechers and keeps what they report. Its
// state is owned by the goroutine in run; nodes only send it events.
type class struct {
	p        params
	timeout  time.Duration
	events   chan nodeEvent
	status   *console.Status // nil unless stderr is a terminal
	http     string          // where the seeder serves the teacher's page; none if empty
	stderr   *os.File
	stops    []func()
	begins   []func()
	joined   int           // leechers that joined
	joinTook time.Duration // from the first leecher's launch to the last one's joining
	launched time.Time     // the first leecher's spawn
	infohash string
	invite   string
	seedDone bool // the seeder exited
	seedErr  error
	seedUp   int64 // piece payload the seeder sent, by its last report: when asked to stop, after the leechers finished
	seedCPU  float64
	seedPeer int // the seeder's connections when asked to stop
	leechers []leecher
	start    time.Time // the go-ahead; without one, the first spawn
	ended    bool      // the progress line is final
	makespan time.Duration
	samples  []sample // the class's progress, every reportEvery
	cpu      float64  // CPU seconds the nodes used
	// busy is the share of the machine's CPU busy from start to
	// the last leecher done, by /proc/stat, over cores; nil where it
	// cannot be read.
	busy  *float64
	cores int
}

// sample is the content the leechers held together, at a time.
type sample struct {
	at    time.Duration // since the leechers started
	bytes int64
}

func newClass(p params, timeout time.Duration, stderr *os.File) *class {
	c := &class{p: p, timeout: timeout, events: make(chan nodeEvent, 256), stderr: stderr, leechers: make([]leecher, p.Leechers)}
	if console.IsTerminal(stderr) {
		c.status = &console.Status{W: stderr}
	}
	return c
}

// run starts the seeder, then every leecher at once, waits for them to
// finish, and stops them all.
func (c *class) run(ctx context.Context, l launcher, src, outDir string) error {
	// procs ends every node still running when run returns, however it does.
	procs, kill := context.WithCancel(context.Background())
	defer kill()
	defer c.stopAll(kill)
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("timed out after %v (-timeout)", c.timeout))
	defer cancel()

	_, stop, err := l.start(procs, 0, nodeOptions{role: "seeder", file: src, up: flagx.ByteRate(c.p.SeedUp),
		budget: c.p.SeedBudget, invites: c.p.Leechers, reportInterval: reportEvery, http: c.http})
	if err != nil {
		return err
	}
	c.stops = append(c.stops, stop)
	if err := c.await(ctx, func() bool { return c.infohash != "" || c.seedDone }); err != nil {
		return err
	}
	if c.infohash == "" {
		return fmt.Errorf("the seeder stopped before serving: %v", c.seedErr)
	}
	fmt.Fprintf(c.stderr, "classroom: seeding %s; starting %d leechers\n", c.infohash, c.p.Leechers)
	c.launched = time.Now()
	var cpuAtStart machineCPU
	var cpuErr error
	if !c.p.GoAhead {
		// No go-ahead: each leecher fetches once it has joined (apply),
		// and the class's clock starts at the first spawn.
		c.start = c.launched
		cpuAtStart, cpuErr = readMachineCPU()
	}
	for i := range c.leechers {
		c.leechers[i].out = filepath.Join(outDir, fmt.Sprintf("leecher-%03d.bin", i+1))
		c.leechers[i].spawned = time.Now()
		begin, stop, err := l.start(procs, i+1, nodeOptions{
			role: "leecher", infohash: c.infohash, invite: c.invite, out: c.leechers[i].out,
			up: flagx.ByteRate(c.p.ups[i]), down: flagx.ByteRate(c.p.downs[i]), reportInterval: reportEvery,
		})
		if err != nil {
			return err
		}
		c.stops = append(c.stops, stop)
		c.begins = append(c.begins, begin)
	}
	if c.p.GoAhead {
		if err := c.goAhead(ctx); err != nil {
			return err
		}
		cpuAtStart, cpuErr = readMachineCPU()
	}
	err = c.await(ctx, func() bool { return c.finished() == c.p.Leechers || c.seedDone })
	if cpuAtEnd, endErr := readMachineCPU(); cpuErr == nil && endErr == nil {
		busy := cpuAtEnd.busySince(cpuAtStart)
		c.busy, c.cores = &busy, cpuAtEnd.cores
	}
	c.sample()
	c.draw(true)
	if err == nil && c.seedDone {
		err = fmt.Errorf("the seeder stopped: %v", c.seedErr)
	}
	return err
}

// goAhead waits for every student to join, and -settle, then starts the
// whole class's fetch at one instant.
func (c *class) goAhead(ctx context.Context) error {
	if err := c.await(ctx, func() bool { return c.joined+c.finished() == c.p.Leechers || c.seedDone }); err != nil {
		return err
	}
	c.joinTook = time.Since(c.launched)
	if c.p.Settle > 0 {
		settle := time.Duration(c.p.Settle * float64(time.Second))
		fmt.Fprintf(c.stderr, "classroom: %d leechers joined in %v; the go-ahead in %v\n", c.joined, c.joinTook.Round(time.Millisecond), settle)
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	fmt.Fprintf(c.stderr, "classroom: %d leechers joined in %v; fetching\n", c.joined, c.joinTook.Round(time.Millisecond))
	c.start = time.Now()
	for i, begin := range c.begins {
		c.leechers[i].at[phaseGoAhead] = c.start
		begin()
	}
	return nil
}

// stopAll asks every node to stop and waits, within stopGrace, for their
// last reports; then kill ends what is left.
func (c *class) stopAll(kill func()) {
	for _, stop := range c.stops {
		stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if err := c.await(ctx, func() bool { return c.exited() == len(c.stops) }); err != nil {
		fmt.Fprintf(c.stderr, "classroom: %d nodes did not stop within %v; killing them\n", len(c.stops)-c.exited(), stopGrace)
		kill()
	}
}

// await applies events until done says so or ctx ends, redrawing the
// progress line.
func (c *class) await(ctx context.Context, done func() bool) error {
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	for n := 0; !done(); {
		select {
		case e := <-c.events:
			c.apply(e)
		case <-tick.C:
			n++
			c.sample()
			// Off a terminal, a line every 5 s is enough for a log.
			if c.status != nil || n%10 == 0 {
				c.draw(false)
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

func (c *class) apply(e nodeEvent) {
	c.cpu += e.cpu
	if e.node == 0 {
		switch {
		case e.exit:
			c.seedDone, c.seedErr, c.seedCPU = true, e.err, e.cpu
		case e.r.Event == "serving":
			c.infohash, c.invite = e.r.Infohash, e.r.Invite
			if e.r.HTTP != "" {
				fmt.Fprintf(c.stderr, "classroom: the teacher's page, the class's progress live: http://%s/\n", e.r.HTTP)
			}
		case e.r.Event == "progress" || e.r.Event == "stopped":
			c.seedUp = max(c.seedUp, e.r.Uploaded)
			c.seedPeer = max(c.seedPeer, e.r.Peers)
		}
		return
	}
	p := &c.leechers[e.node-1]
	now := time.Now()
	switch {
	case e.exit:
		p.exited, p.err, p.cpu = true, e.err, e.cpu
		if p.err == nil && !p.done {
			p.err = errors.New("exited before completing")
		}
	case e.r.Event == "started":
		p.at[phaseStarted] = now
	case e.r.Event == "joined":
		c.joined++
		p.at[phaseJoined] = now
		if !c.p.GoAhead && e.node-1 < len(c.begins) {
			p.at[phaseGoAhead] = now
			c.begins[e.node-1]()
		}
	case e.r.Event == "resolved":
		p.resolved, p.at[phaseResolved] = e.r.Seconds, now
	case e.r.Event == "first":
		p.first, p.at[phaseFirst] = e.r.Seconds, now
	case e.r.Event == "progress":
		p.bytes = e.r.Bytes
	case e.r.Event == "done":
		p.done, p.doneAt, p.seconds, p.at[phaseDone] = true, now.Sub(c.start), e.r.Seconds, now
		p.bytes, p.downloaded, p.uploaded, p.peersDone, p.linksDone = e.r.Bytes, e.r.Downloaded, e.r.Uploaded, e.r.Peers, e.r.Links
		p.opened = max(p.opened, e.r.Opened)
		c.makespan = max(c.makespan, p.doneAt)
	case e.r.Event == "stopped":
		p.downloaded, p.uploaded, p.peersStop = e.r.Downloaded, e.r.Uploaded, e.r.Peers
		p.opened = max(p.opened, e.r.Opened)
	}
}

// finished counts leechers that completed or gave up.
func (c *class) finished() int {
	n := 0
	for _, p := range c.leechers {
		if p.done || p.exited {
			n++
		}
	}
	return n
}

// exited counts nodes, the seeder too, that have stopped.
func (c *class) exited() int {
	n := 0
	if c.seedDone {
		n++
	}
	for _, p := range c.leechers {
		if p.exited {
			n++
		}
	}
	return n
}

// held is the content the leechers hold together.
func (c *class) held() int64 {
	var bytes int64
	for _, p := range c.leechers {
		bytes += p.bytes
	}
	return bytes
}

// sample records the class's progress while the leechers run.
func (c *class) sample() {
	if c.start.IsZero() || c.ended {
		return
	}
	c.samples = append(c.samples, sample{at: time.Since(c.start), bytes: c.held()})
}

// draw shows peers done of N, the aggregate percent, the seeder's upload
// over F, and the time elapsed: redrawn in place on a terminal, a line at
// a time otherwise.
func (c *class) draw(final bool) {
	if c.start.IsZero() || c.ended {
		return
	}
	c.ended = final
	done, failed := 0, 0
	for _, p := range c.leechers {
		if p.done {
			done++
		} else if p.exited {
			failed++
		}
	}
	bytes, total := c.held(), c.p.FileBytes*int64(c.p.Leechers)
	line := fmt.Sprintf("classroom: %d/%d done  %5.1f%% %s  seeder out %.2f·F  elapsed %s", done, c.p.Leechers,
		100*float64(bytes)/float64(total), console.Bar(bytes, total, 30),
		float64(c.seedUp)/float64(c.p.FileBytes), console.Duration(time.Since(c.start)))
	if failed > 0 {
		line += fmt.Sprintf("  %d failed", failed)
	}
	switch {
	case c.status == nil:
		fmt.Fprintln(c.stderr, line)
	case final:
		c.status.End(line)
	default:
		c.status.Draw(line)
	}
}

// verify compares every completed output with the source's SHA-256.
func (c *class) verify(want [sha256.Size]byte) {
	for i := range c.leechers {
		p := &c.leechers[i]
		if !p.done {
			continue
		}
		got, err := fileSum(p.out)
		switch {
		case err != nil:
			p.err = fmt.Errorf("reading the output: %w", err)
		case got != want:
			p.err = errors.New("output differs from the source (SHA-256)")
		default:
			p.verified = true
		}
	}
}
