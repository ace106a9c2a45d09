package swarm

import (
	"errors"
	"fmt"
	"time"

	"github.com/p2pshare/p2pshare/internal/picker"
)

// Waiting says what a fetch that has received no piece data for a while is
// waiting for.
type Waiting int

// The states of a fetch's wait.
const (
	// NotWaiting: piece data arrived lately (or the fetch is complete).
	NotWaiting Waiting = iota
	// WaitingNoHolder: no linked peer holds a piece the fetch misses, and
	// no holder the lookups found could be linked; the fetch keeps
	// looking.
	WaitingNoHolder
	// WaitingHoldersBanned: every peer known to hold the share is banned,
	// because a piece it sent failed verification; the fetch keeps
	// looking for another.
	WaitingHoldersBanned
	// WaitingHoldersIdle: linked peers hold pieces the fetch misses but
	// send none (their upload is busy or capped, or they stopped
	// answering).
	WaitingHoldersIdle
)

// String says what the fetch waits for, as the leecher shows it and writes
// it in JSON.
func (w Waiting) String() string {
	switch w {
	case NotWaiting:
		return "not waiting"
	case WaitingNoHolder:
		return "no holder reachable"
	case WaitingHoldersBanned:
		return "every holder banned"
	case WaitingHoldersIdle:
		return "holders send nothing"
	}
	return fmt.Sprintf("waiting(%d)", int(w))
}

// ErrStalled is why a fetch ends (wrapped, with what it waited for) when it
// received no piece data for its Config.StallTimeout.
var ErrStalled = errors.New("fetch stalled")

// waitAfter is how long a fetch may receive no piece data before it says
// what it waits for: long enough that a fetch starting up, or a slow peer
// between two pieces, does not look stuck.
const waitAfter = 5 * time.Second

// stallView is what a fetch looks like on a tick, as a stallWatch reads it.
type stallView struct {
	down    int64 // piece payload received so far
	have    int   // verified pieces held
	pieces  int   // pieces in the share
	linked  int   // peers with a link up
	holders int   // linked peers known to hold a piece the fetch misses
	banned  int   // peers banned for a piece that failed verification
	found   int   // holders not banned that the latest provider lookup found; <0: none ran yet
}

// stallWatch decides, from what a fetch looks like on each tick, what the
// fetch waits for and when it has gone without piece data for its limit.
// It does no I/O and reads no clock. It is not safe for concurrent use: a
// session's run goroutine owns it.
type stallWatch struct {
	limit time.Duration // 0: none
	since time.Time     // when piece data last arrived, or the watch began
	down  int64
	have  int
	state Waiting
}

func newStallWatch(now time.Time, limit time.Duration, down int64, have int) *stallWatch {
	return &stallWatch{limit: limit, since: now, down: down, have: have}
}

// observe takes the fetch's view at now. It returns what the fetch waits
// for and whether that changed since the last call, and, once the fetch has
// received nothing for its limit, the error that ends it, which names what
// it waited for.
func (w *stallWatch) observe(now time.Time, v stallView) (Waiting, bool, error) {
	if v.down != w.down || v.have != w.have {
		w.since, w.down, w.have = now, v.down, v.have
	}
	idle := now.Sub(w.since)
	after := waitAfter
	if w.limit > 0 {
		// A short limit still says what the fetch waited for before it
		// ends it.
		after = min(after, w.limit/2)
	}
	state := NotWaiting
	if idle >= after {
		state = classify(v)
	}
	changed := state != w.state
	w.state = state
	if w.limit > 0 && idle >= w.limit {
		return state, changed, fmt.Errorf("%w: no piece data for %v, at %d of %d pieces: %s",
			ErrStalled, w.limit, v.have, v.pieces, explain(classify(v), v))
	}
	return state, changed, nil
}

// classify says what a fetch that receives nothing waits for.
func classify(v stallView) Waiting {
	switch {
	case v.holders > 0:
		return WaitingHoldersIdle
	case v.banned > 0 && v.found <= 0:
		return WaitingHoldersBanned
	default:
		return WaitingNoHolder
	}
}

// explain says what a fetch waited for, with the numbers behind it.
func explain(w Waiting, v stallView) string {
	missing := v.pieces - v.have
	switch {
	case w == WaitingHoldersIdle:
		return fmt.Sprintf("holders send nothing: %s holding missing pieces sent none", count(v.holders, "linked peer"))
	case w == WaitingHoldersBanned:
		return fmt.Sprintf("every holder banned: %s found sent pieces that failed verification", count(v.banned, "holder"))
	case v.found > 0:
		return fmt.Sprintf("no holder reachable: the lookup found %s, none could be linked", count(v.found, "holder"))
	case v.linked > 0:
		return fmt.Sprintf("no holder reachable: %s hold none of the %d missing pieces", count(v.linked, "linked peer"), missing)
	default:
		return fmt.Sprintf("no holder reachable: no member holding the %d missing pieces was found", missing)
	}
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// Waiting says what the fetch waits for now (NotWaiting once complete).
func (s *Session) Waiting() Waiting { return Waiting(s.waiting.Load()) }

// NoteHolders tells the session how many holders of its share, not banned,
// the latest lookup of the share's providers found; what it says when it
// waits, and why it stalled, depends on it.
func (s *Session) NoteHolders(n int) { s.found.Store(int32(n)) }

// watchStall, on a tick of a fetch, updates what the fetch waits for,
// publishes an EventWaiting when that changes, and ends the fetch with
// ErrStalled once it received no piece data for Config.StallTimeout.
func (s *Session) watchStall(now time.Time) {
	v := stallView{
		down: s.down.Load(), have: int(s.nHave.Load()), pieces: s.m.NumPieces(),
		linked: len(s.links), found: int(s.found.Load()),
	}
	for id := range s.links {
		if s.picker.Interested(picker.Peer(id)) {
			v.holders++
		}
	}
	s.mu.Lock()
	v.banned = len(s.banned)
	s.mu.Unlock()
	w, changed, err := s.stall.observe(now, v)
	if changed {
		s.waiting.Store(int32(w))
		if w != NotWaiting {
			s.cfg.Log.Info("fetch waiting", "share", s.cfg.Infohash, "for", w, "pieces", v.have, "of", v.pieces, "linked", v.linked, "banned", v.banned)
		}
		s.publish(Event{Kind: EventWaiting, Waiting: w, Progress: s.Progress()})
	}
	if err != nil {
		s.fail(fmt.Errorf("swarm: %s: %w", s.m.Name, err))
	}
}
