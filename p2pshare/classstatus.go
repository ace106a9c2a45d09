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
// them to the bootstrap, and to every coordinator of its group, about once
// a second (class_report.go, class_targets.go), and each aggregates every
// member's reports into snapshots of the class (class_view.go).
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
	// stopped is when the session was first reported done; it is dropped
	// stoppedKeep later.
	stopped time.Time
}

// reportEvery is how often a member sends its status report; the view's
// own thresholds are in class_view.go.
const reportEvery = time.Second

// stoppedKeep is how long a stopped session stays in the reports: a few
// of them, so that every reader of ownReport sees it stop.
const stoppedKeep = 3 * reportEvery

// startClassStatus starts the class view's services on s.
func startClassStatus(s *Swarm) *classStatus {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &classStatus{s: s, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), tracked: map[*swarm.Session]*tracked{}}
	if s.net.boot != nil {
		c.view = newClassAggregator(c)
		c.goRun(c.view.run)
	}
	if s.net.group != nil {
		// A coordinator tells members who the others are, and reports its
		// own shares to them, as a member does.
		s.net.m.Guard(s.h).SetStreamHandler(protocolCoordinators, s.serveCoordinators)
	}
	if s.net.boot == nil || s.net.group != nil {
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
	if c.s.net.group != nil {
		c.s.h.RemoveStreamHandler(protocolCoordinators)
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

// ownReport is this node's status report at now. A session that stopped
// is reported as stopped for stoppedKeep, then forgotten: on a coordinator
// both the view and the reporter read it, and each must see the stop.
func (c *classStatus) ownReport(now time.Time) classview.Report {
	r := classview.Report{UploadCap: c.s.cfg.UploadLimit, DownloadCap: c.s.cfg.DownloadLimit}
	c.mu.Lock()
	defer c.mu.Unlock()
	for se, tr := range c.tracked {
		if !tr.stopped.IsZero() && now.Sub(tr.stopped) > stoppedKeep {
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
			AgeMillis: now.Sub(tr.seen).Milliseconds(),
		}
		select {
		case <-se.Complete():
			sr.Complete = true
		default:
		}
		select {
		case <-se.Done():
			sr.Stopped = true
			if tr.stopped.IsZero() {
				tr.stopped = now
			}
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
