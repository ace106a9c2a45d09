package p2pshare

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
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
	// nothing when first seen: the node shared it rather than fetched it.
	origin           bool
	seen             time.Time    // when the class status first saw it
	verified, failed atomic.Int64 // pieces, from the session's events
	// stopped is set once the session is done and has been reported so;
	// it is then dropped.
	stopped bool
}

// Intervals of the class status; the view's own thresholds are in
// class_view.go.
const (
	trackEvery  = 200 * time.Millisecond // looking for new sessions
	reportEvery = time.Second            // a member's status report
)

// startClassStatus starts the class view's services on s.
func startClassStatus(s *Swarm) *classStatus {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &classStatus{s: s, ctx: ctx, cancel: cancel, kick: make(chan struct{}, 1), tracked: map[*swarm.Session]*tracked{}}
	c.goRun(c.track)
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

// track notices the node's sessions as they open and counts their events.
func (c *classStatus) track() {
	t := time.NewTicker(trackEvery)
	defer t.Stop()
	for {
		c.s.mu.Lock()
		var fresh []*swarm.Session
		for _, se := range c.s.sessions {
			fresh = append(fresh, se)
		}
		c.s.mu.Unlock()
		c.mu.Lock()
		for _, se := range fresh {
			if c.tracked[se] != nil {
				continue
			}
			p := se.Progress()
			tr := &tracked{se: se, origin: p.Pieces == p.TotalPieces && p.Downloaded == 0, seen: time.Now()}
			c.tracked[se] = tr
			events := se.Subscribe()
			c.goRun(func() { c.count(tr, events) })
			c.poke() // report a new share at once
		}
		c.mu.Unlock()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// count counts a session's verified and failed pieces until it stops, and
// asks for a report when it completes or stops.
func (c *classStatus) count(tr *tracked, events <-chan swarm.Event) {
	defer c.poke()
	for e := range events {
		switch e.Kind {
		case swarm.EventPiece:
			tr.verified.Add(1)
		case swarm.EventPeerBanned:
			tr.failed.Add(1) // a ban is one piece that failed verification
		case swarm.EventComplete, swarm.EventFailed:
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
