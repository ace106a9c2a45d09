package p2pshare

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/p2pshare/p2pshare/internal/classview"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

// classStatus is the teacher's view of the class. Every node tracks its
// open shares (for its status reports and its metrics); a member reports
// them to the bootstrap about once a second (class_report.go), and the
// bootstrap aggregates every member's reports into snapshots of the class
// (class_view.go).
type classStatus struct {
	s      *Swarm
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // a share completed or stopped: report now

	mu      sync.Mutex
	tracked map[*swarm.Session]*tracked

	view *classAggregator // nil on a member
}

// tracked is one session as the class status sees it.
type tracked struct {
	se *swarm.Session
	// origin is set when the session held every piece and had downloaded
	// nothing when it opened: the node shared it rather than fetched it.
	origin bool
	seen   time.Time // when the session opened
	// stopped is set once the session is done and has been reported so;
	// it is then dropped.
	stopped bool
}

// reportEvery is how often a member sends its status report; the view's
// own thresholds are in class_view.go.
const reportEvery = time.Second

// startClassStatus starts the class view's services on s.
func startClassStatus(s *Swarm) *classStatus {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &classStatus{s: s, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), tracked: map[*swarm.Session]*tracked{}}
	if s.net.boot != nil {
		c.view = newClassAggregator(c)
		c.goRun(c.view.run)
	} else {
		c.goRun(c.reportLoop)
	}
	return c
}

func (c *classStatus) goRun(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// close stops them; a nil c is a no-op.
func (c *classStatus) close() {
	if c == nil {
		return
	}
	c.cancel()
	if c.view != nil {
		c.view.stop()
	}
	c.wg.Wait()
}

// add tracks a session the node opened just now, before any piece flows:
// its metrics are the session's own counters, and the reports follow it
// from its start. It must not be called after close.
func (c *classStatus) add(se *swarm.Session) {
	p := se.Progress()
	tr := &tracked{se: se, origin: p.Pieces == p.TotalPieces && p.Downloaded == 0, seen: time.Now()}
	events := se.Subscribe()
	c.mu.Lock()
	c.tracked[se] = tr
	c.mu.Unlock()
	c.goRun(func() { c.follow(events) })
	c.poke() // report a new share at once
}

// follow asks for a report when a session completes or stops.
func (c *classStatus) follow(events <-chan swarm.Event) {
	defer c.poke()
	for e := range events {
		if e.Kind == swarm.EventComplete || e.Kind == swarm.EventFailed {
			c.poke()
		}
	}
}

func (c *classStatus) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// sessions lists the tracked sessions.
func (c *classStatus) sessions() []*tracked {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*tracked, 0, len(c.tracked))
	for _, tr := range c.tracked {
		out = append(out, tr)
	}
	return out
}

// ownReport is this node's status report now. A session that stopped is
// reported once as stopped, then forgotten. It is called by one goroutine
// only: the reporter on a member, the aggregator on the bootstrap.
func (c *classStatus) ownReport() classview.Report {
	r := classview.Report{UploadCap: c.s.cfg.UploadLimit, DownloadCap: c.s.cfg.DownloadLimit}
	c.mu.Lock()
	defer c.mu.Unlock()
	for se, tr := range c.tracked {
		if tr.stopped {
			delete(c.tracked, se)
			continue
		}
		if len(r.Shares) == classview.MaxShares {
			break
		}
		p := se.Progress()
		sr := classview.ShareReport{
			Share: se.Infohash().String(), Name: se.Manifest().Name, Origin: tr.origin,
			Bytes: p.Bytes, Total: p.TotalBytes, Uploaded: p.Uploaded, Downloaded: p.Downloaded,
			UpRate: int64(p.UpRate), DownRate: int64(p.DownRate),
			AgeMillis: time.Since(tr.seen).Milliseconds(),
		}
		select {
		case <-se.Complete():
			sr.Complete = true
		default:
		}
		select {
		case <-se.Done():
			sr.Stopped, tr.stopped = true, true
			if err := se.Err(); err != nil {
				sr.Err = clean(err.Error(), classview.MaxErrLen)
			}
		default:
		}
		sr.Name = clean(sr.Name, classview.MaxNameLen)
		r.Shares = append(r.Shares, sr)
	}
	return r
}

// clean makes s valid UTF-8 of at most n bytes, cut on a rune boundary.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
