package swarm

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	EventProgress      EventKind = iota // a periodic Progress snapshot
	EventPeerConnected                  // a link to Peer came up
	EventPeerDropped                    // the link to Peer went down
	EventPeerBanned                     // Peer sent Piece and it failed verification
	EventPiece                          // Piece arrived from Peer and verified
	EventComplete                       // every piece is held and stored
	EventFailed                         // the session stopped with Err
	EventWaiting                        // what a fetch waits for changed: Waiting (NotWaiting: data flows again)
)

// String names the kind, as in logs and JSON.
func (k EventKind) String() string {
	return [...]string{"progress", "peer-connected", "peer-dropped", "peer-banned", "piece", "complete", "failed", "waiting"}[k]
}

// Event is one thing that happened in a session.
type Event struct {
	Kind  EventKind
	Peer  peer.ID
	Piece int
	// Err is why the session failed (EventFailed), or how Peer broke the
	// protocol (EventPeerDropped; the session then refuses it for a while).
	Err      error
	Progress Progress
	// Waiting is what a fetch waits for (EventWaiting).
	Waiting Waiting
}

// Progress is a snapshot of a session.
type Progress struct {
	Bytes       int64   // verified content bytes held
	TotalBytes  int64   // content size
	Pieces      int     // verified pieces held
	TotalPieces int     // pieces in the share
	Peers       int     // peers with a link up
	Downloaded  int64   // piece payload received, including waste
	Uploaded    int64   // piece payload sent
	DownRate    float64 // bytes per second over the last interval
	UpRate      float64 // bytes per second over the last interval
	// Waiting is what a fetch that has received no piece data for a while
	// waits for; NotWaiting while data flows, and for a seed.
	Waiting Waiting
	// Verified counts the pieces the session received and verified, from
	// its first (not those it opened with, nor a duplicate); Failed, those
	// that failed verification, each of which banned its sender. The
	// session counts them itself, so they are exact whoever watches.
	Verified, Failed int64
}

type sample struct {
	at               time.Time
	down, up         int64
	rateDown, rateUp float64
}

// Progress returns a snapshot of the session now.
func (s *Session) Progress() Progress {
	s.mu.Lock()
	last := s.lastSample
	s.mu.Unlock()
	return s.snapshot(last)
}

func (s *Session) snapshot(last sample) Progress {
	n := int(s.nHave.Load())
	bytes := s.haveBytes.Load()
	return Progress{
		Bytes: bytes, TotalBytes: s.m.TotalSize(),
		Pieces: n, TotalPieces: s.m.NumPieces(),
		Peers:      int(s.nPeers.Load()),
		Downloaded: s.down.Load(), Uploaded: s.up.Load(),
		DownRate: last.rateDown, UpRate: last.rateUp,
		Waiting:  Waiting(s.waiting.Load()),
		Verified: s.nVerified.Load(), Failed: s.nFailed.Load(),
	}
}

// Subscribe returns a channel of the session's events from now on. A
// subscriber that does not keep up loses routine events first, then any;
// the channel closes when the session stops.
func (s *Session) Subscribe() <-chan Event {
	c := make(chan Event, 256)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopped:
		close(c)
	default:
		s.subs = append(s.subs, c)
	}
	return c
}

func (s *Session) publish(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	routine := e.Kind != EventComplete && e.Kind != EventFailed
	for _, c := range s.subs {
		// Routine events leave headroom so the outcome still fits in the
		// buffer of a consumer that reads slowly.
		if routine && len(c) >= cap(c)-eventHeadroom {
			continue
		}
		select {
		case c <- e:
		default:
		}
	}
}

// eventHeadroom is the buffer space routine events leave free.
const eventHeadroom = 8

func (s *Session) closeSubs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.subs {
		close(c)
	}
	s.subs = nil
}

// publishProgress samples the byte counters and publishes a snapshot.
func (s *Session) publishProgress(now time.Time) {
	s.mu.Lock()
	prev := s.lastSample
	cur := sample{at: now, down: s.down.Load(), up: s.up.Load()}
	if dt := now.Sub(prev.at).Seconds(); dt > 0 {
		cur.rateDown = float64(cur.down-prev.down) / dt
		cur.rateUp = float64(cur.up-prev.up) / dt
	}
	s.lastSample = cur
	s.mu.Unlock()
	s.publish(Event{Kind: EventProgress, Progress: s.snapshot(cur)})
}
