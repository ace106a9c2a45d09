// Package sim runs a whole class on a virtual clock: one seeder and N
// students trading pieces, each node's upload and download shared among its
// transfers, driven by the very picker and upload policy the real swarm runs.
// It does no I/O, and the same seed replays the same run. A class of 1000
// takes a minute or so of wall time on one core (cmd/p2psim here: s6 50 s,
// wifi 60 s, mixed 80-90 s): most of it goes to sharing the capacities
// step by step among tens of thousands of transfers (fill.go), and to
// telling some 80 linked peers of each of a million pieces delivered, each
// a cache miss or two in their pickers. A class of 50 takes well under a
// second.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/p2pshare/p2pshare/internal/picker"
	"github.com/p2pshare/p2pshare/internal/upload"
)

// Class describes a simulated run. Rates are bytes per second.
type Class struct {
	N         int     // students
	FileSize  int64   // bytes
	PieceSize int64   // bytes
	SeedUp    float64 // the seeder's upload
	Up        []float64
	Down      []float64 // per student; len N each
	Degree    int       // links each student opens to other students (the seeder links to all); 0: as many as a swarm fetch dials, picker.LinkTarget
	Depth     int       // most requests kept open per link
	// Target is how much delivery time of a peer the requests open to it
	// cover (the pipeline's bandwidth-delay product); 0 means 1 s.
	Target time.Duration
	// OutstandingSecs caps requests open across all peers at that many
	// seconds of the student's download; 0: no cap.
	OutstandingSecs float64
	// Slots is how many uploads a node runs at once; 0 means as few as
	// fill its upload (see startUploads).
	Slots int
	// SeedBudget, above 0, is how many copies of the file the seeder
	// uploads before it shows only pieces nobody else holds or is owed
	// (p2pshare.ShareOptions.UploadBudget).
	SeedBudget float64
	Step       time.Duration
	Seed       uint64
	// Leave, if set, makes student i leave abruptly at that virtual time
	// (zero: stays).
	Leave []time.Duration
	// JoinRate, above 0, has the class start together, as a real one does:
	// the bootstrap admits the students one after another at this many a
	// second (its admission line: p2pshare admits 500 a second by default,
	// at about 2 ms of the bootstrap's CPU each), in a random order, and
	// each starts trading JoinLatency after its admission (process start,
	// handshakes, the manifest and the first lookups). A student's links
	// form when both ends are in. 0 means the whole class is there at time
	// 0. Completion times count from the class's start either way.
	JoinRate    float64
	JoinLatency time.Duration
}

// Result is what a run measured.
type Result struct {
	Done         []time.Duration // per student, completion time; -1 if it never finished
	Joined       []time.Duration // per student, when it started trading (0 without Class.JoinRate)
	Makespan     time.Duration   // the last student that stayed finishes
	TStar        time.Duration   // the lower bound max(F/Us, F/Dmin, N·F/(Us+ΣU))
	SeedUploaded int64
	Uploaded     int64 // by everyone
	Steps        int
	// Timeline has one sample per second of virtual time: how much of the
	// class's capacity the transfers used, to show where a run lost time.
	Timeline []Sample
}

// Sample is one second of a run.
type Sample struct {
	At time.Duration // the end of the second
	// UpUsed is the bytes every node sent over what all of them could have
	// sent; DownUsed the bytes unfinished students received over what they
	// could have received.
	UpUsed, DownUsed float64
	Done             int // students finished by At
}

// LowerBound is T* for the class.
func (c *Class) LowerBound() time.Duration {
	f := float64(c.FileSize)
	sumU := c.SeedUp
	dmin := math.Inf(1)
	for i := 0; i < c.N; i++ {
		sumU += c.Up[i]
		dmin = min(dmin, c.Down[i])
	}
	t := max(f/c.SeedUp, f/dmin, float64(c.N)*f/sumU)
	return time.Duration(t * float64(time.Second))
}

// Validate reports the first impossible setting.
func (c *Class) Validate() error {
	switch {
	case c.N < 1:
		return fmt.Errorf("sim: N %d < 1", c.N)
	case c.FileSize < 1 || c.PieceSize < 1:
		return fmt.Errorf("sim: file size %d, piece size %d", c.FileSize, c.PieceSize)
	case len(c.Up) != c.N || len(c.Down) != c.N:
		return fmt.Errorf("sim: %d upload and %d download rates for %d students", len(c.Up), len(c.Down), c.N)
	case c.SeedUp <= 0:
		return fmt.Errorf("sim: seeder upload %v", c.SeedUp)
	case c.Degree < 0:
		return fmt.Errorf("sim: degree %d < 0", c.Degree)
	case c.Depth < 1 || c.Slots < 0 || c.Step <= 0:
		return fmt.Errorf("sim: depth %d, slots %d, step %v", c.Depth, c.Slots, c.Step)
	case c.Leave != nil && len(c.Leave) != c.N:
		return fmt.Errorf("sim: %d leave times for %d students", len(c.Leave), c.N)
	case c.JoinRate < 0 || c.JoinLatency < 0:
		return fmt.Errorf("sim: join rate %v, join latency %v", c.JoinRate, c.JoinLatency)
	}
	return nil
}

// Uniform fills a class where every student has the same rates.
func Uniform(n int, up, down float64) (ups, downs []float64) {
	ups, downs = make([]float64, n), make([]float64, n)
	for i := range ups {
		ups[i], downs[i] = up, down
	}
	return ups, downs
}

// Run simulates the class to completion (or until 100·T* of virtual time).
func Run(c Class) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	w := newWorld(c)
	res := Result{TStar: c.LowerBound()}
	limit := 100 * res.TStar
	dt := c.Step.Seconds()
	var now time.Duration
	var nextSample time.Duration
	for !w.finished() && now < limit {
		now += c.Step
		w.now = now
		if now >= nextSample {
			w.sample(now)
			w.rescueStalled(now)
			nextSample = now + 500*time.Millisecond
		}
		w.join(now)
		w.leave(now)
		w.startUploads()
		w.advance(dt)
		res.Steps++
		w.account(&res, now, dt)
	}
	res.Done = make([]time.Duration, c.N)
	res.Joined = make([]time.Duration, c.N)
	for i := 1; i <= c.N; i++ {
		n := w.nodes[i]
		res.Done[i-1] = n.doneAt
		res.Joined[i-1] = n.joinAt
		if !n.gone && n.doneAt < 0 {
			return res, fmt.Errorf("sim: student %d unfinished after %v (%d pieces missing)", i-1, now, n.pick.Missing())
		}
		if !n.gone {
			res.Makespan = max(res.Makespan, n.doneAt)
		}
		res.Uploaded += n.uploaded
	}
	res.SeedUploaded = w.nodes[0].uploaded
	res.Uploaded += res.SeedUploaded
	return res, nil
}

// pid names node i for the picker and upload policy, which key on names.
func (w *world) pid(i int) string { return w.pids[i] }

type node struct {
	id       int
	up, down float64
	pick     *picker.Picker
	queue    *upload.Queue
	super    *upload.SuperSeed // the seeder only
	links    []int             // sorted
	pipes    []picker.Pipeline // per link: what it delivers
	refs     []picker.Ref      // per link: the picker's record of the peer
	heard    []hearer          // per link: who hears of this node's pieces there
	active   []flow
	doneAt   time.Duration
	uploaded int64
	gone     bool
	leaveAt  time.Duration
	joinAt   time.Duration // when it starts trading (Class.JoinRate)
	gainedAt time.Duration // when it last got a piece
	sent     float64       // bytes/s its transfers moved in the last step
}

// hearer is a linked node as one that hears of this node's new pieces:
// its picker and record of this node, where this node is among its links,
// and how many requests its pipeline to this node keeps open (0: work it
// out again, the pipeline was sampled). Kept beside the links, it spares
// deliver a lookup per link.
type hearer struct {
	pick   *picker.Picker
	ref    picker.Ref
	at     int32
	depth  int32
	seeder bool
}

// flow is a piece on its way from one node to another.
type flow struct {
	from, to  int
	piece     int
	remaining float64
	rate      float64
}

type world struct {
	c     Class
	nodes []*node
	n     int // pieces
	now   time.Duration
	rng   *rand.Rand
	// showedAll: the seeder's reveal policy is done and every peer was
	// shown every piece.
	showedAll bool
	pids      []string
	inRate    []float64 // per node, what its transfers delivered in the last step
	fill      fillScratch
	asking    []int // deliver's: the links that heard of a piece and may ask for it
	// pending are the links whose ends have not both joined yet, by the
	// time they form (Class.JoinRate).
	pending []pendingLink
	// What the current second of the timeline has summed so far.
	sent, sendable, got, gettable float64
}

// account adds the step that just ran to the timeline.
func (w *world) account(res *Result, now time.Duration, dt float64) {
	done := 0
	for i, nd := range w.nodes {
		if nd.gone || nd.joinAt > now {
			continue
		}
		w.sent += nd.sent * dt
		w.sendable += nd.up * dt
		if i > 0 && nd.doneAt < 0 {
			w.got += min(w.inRate[i], nd.down) * dt
			w.gettable += nd.down * dt
		} else if i > 0 {
			done++
		}
	}
	if now.Truncate(time.Second) == (now-w.c.Step).Truncate(time.Second) && now%time.Second != 0 && !w.finished() {
		return // the step did not reach or cross a second's end
	}
	s := Sample{At: now, Done: done}
	if w.sendable > 0 {
		s.UpUsed = w.sent / w.sendable
	}
	if w.gettable > 0 {
		s.DownUsed = w.got / w.gettable
	}
	res.Timeline = append(res.Timeline, s)
	w.sent, w.sendable, w.got, w.gettable = 0, 0, 0, 0
}
