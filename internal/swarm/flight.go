package swarm

import (
	"sync"
	"time"

	"github.com/p2pshare/p2pshare/internal/upload"
)

// Flight is what a node with no upload cap has sent and not yet heard
// delivered, shared by its sessions' uploaders (Config.Flight): an
// uploader waits for room before it takes a request, and a piece leaves
// the flight when the peer's Have for it comes, or after
// Config.FlightTimeout. upload.Flight decides how much room there is.
type Flight struct {
	mu      sync.Mutex
	f       upload.Flight
	waiting []*flightWaiter // uploaders waiting for room, first come first served
	now     func() time.Time
}

// flightWaiter is an uploader waiting for room for a piece of size bytes;
// ok is signalled once the room is counted for it.
type flightWaiter struct {
	size int64
	ok   chan struct{}
}

// NewFlight returns an empty flight.
func NewFlight() *Flight { return &Flight{now: time.Now} }

// acquire waits until a piece of size bytes may leave and counts it in
// flight. It returns false, counting nothing, if done closes first. Room
// goes to the uploaders in the order they asked, each woken only when its
// piece fits: a Have wakes one uploader, not every one that waits.
func (f *Flight) acquire(size int64, done <-chan struct{}) bool {
	f.mu.Lock()
	if len(f.waiting) == 0 && f.f.CanSend(size) {
		f.f.Sent(size)
		f.mu.Unlock()
		return true
	}
	w := &flightWaiter{size: size, ok: make(chan struct{}, 1)}
	f.waiting = append(f.waiting, w)
	f.mu.Unlock()
	select {
	case <-w.ok:
		return true
	case <-done:
	}
	f.mu.Lock()
	for i, x := range f.waiting {
		if x == w {
			f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
			f.mu.Unlock()
			return false
		}
	}
	f.mu.Unlock()
	// The room was counted for us as done closed: give it back.
	f.land(size, false)
	return false
}

// land takes a piece of size bytes out of the flight: delivered (its Have
// came) or not (given up on, or never sent); the room goes to the
// uploaders waiting first.
func (f *Flight) land(size int64, delivered bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.f.Done(f.now(), size, delivered)
	for len(f.waiting) > 0 && f.f.CanSend(f.waiting[0].size) {
		w := f.waiting[0]
		f.waiting = f.waiting[1:]
		f.f.Sent(w.size)
		w.ok <- struct{}{}
	}
}

// perPeer is how many pieces of size bytes one link may hold in the
// flight (upload.Flight.PerPeer).
func (f *Flight) perPeer(size int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.PerPeer(size)
}

// awaitOwnRoom waits while the link holds its share of the flight, until
// one of its pieces lands. It returns false if the link goes down first.
func (l *link) awaitOwnRoom() bool {
	for {
		l.mu.Lock()
		n := len(l.sent)
		l.mu.Unlock()
		if n < l.s.flight.perPeer(l.s.m.PieceSize) {
			return true
		}
		select {
		case <-l.sentWake:
		case <-l.done:
			return false
		}
	}
}

// InFlight is the pieces and bytes in flight now.
func (f *Flight) InFlight() (int, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.InFlight()
}

// DefaultFlightTimeout is how long a piece stays in flight without its
// Have: the peer had it already, or its Have is lost with the link.
const DefaultFlightTimeout = 5 * time.Second

// flying registers piece i, sent on the link, as in flight until its Have
// comes or the timeout passes.
func (l *link) flying(i uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		l.s.flight.land(l.s.m.PieceSize, false)
		return
	}
	if l.sent == nil {
		l.sent = map[uint32]*time.Timer{}
	}
	if _, ok := l.sent[i]; ok { // cannot happen: a piece is served once per link
		l.s.flight.land(l.s.m.PieceSize, false)
		return
	}
	l.sent[i] = time.AfterFunc(l.s.cfg.FlightTimeout, func() { l.landed(i, false) })
}

// landed takes piece i out of the flight, if it was in it.
func (l *link) landed(i uint32, delivered bool) {
	l.mu.Lock()
	t, ok := l.sent[i]
	if ok {
		t.Stop()
		delete(l.sent, i)
	}
	l.mu.Unlock()
	if ok {
		l.s.flight.land(l.s.m.PieceSize, delivered)
		notify(l.sentWake)
	}
}

// landAll takes every piece the link has in flight out of it, undelivered:
// the link is down.
func (l *link) landAll() {
	l.mu.Lock()
	n := len(l.sent)
	for i, t := range l.sent {
		t.Stop()
		delete(l.sent, i)
	}
	l.mu.Unlock()
	for range n {
		l.s.flight.land(l.s.m.PieceSize, false)
	}
}
