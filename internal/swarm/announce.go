package swarm

import (
	"time"

	"github.com/p2pshare/p2pshare/internal/wire"
)

// A piece got is announced to every linked peer that may want it. Sent at
// once, each of those Haves is a stream write of its own: a mux frame, a
// TLS record, a syscall and a packet here, a wakeup and a read at the peer.
// In a class of 30 that is up to 29 writes per piece; leaving together,
// they cut an S2 class's writes under tc by a fifth (about 660k to 520k
// for the run). The Haves to the other peers therefore wait a
// little and leave together: with the link's next write, when haveBatch of
// them are waiting, or Config.HaveDelay after the first, whichever comes first.
// The peer that sent the piece hears of it at once: its Have is how an
// uploader with no cap learns the piece left its flight (Flight).
const (
	// DefaultHaveDelay is the longest a Have waits for company: half the
	// time a link's requests cover (pipelineTarget), so a peer's picker
	// hears of a new source within one round of its requests. In S2 under
	// tc a node gets about 32 pieces a second, so its Haves leave eight at
	// a time; with a fifth of it (100 ms), about three, and the class used
	// 5-10 % more CPU per GB.
	DefaultHaveDelay = pipelineTarget / 2
	// haveBatch is how many waiting Haves go out without waiting for
	// Config.HaveDelay.
	haveBatch = 8
)

// announce holds back a Have of piece i for the link's next write and
// reports how many are waiting.
func (l *link) announce(i int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	l.haves = append(l.haves, uint32(i))
	return len(l.haves)
}

// releaseHaves hands the Haves announce held back to the writer.
func (l *link) releaseHaves() {
	l.mu.Lock()
	if len(l.haves) == 0 || l.closed {
		l.mu.Unlock()
		return
	}
	l.ctrl = l.takeHaves(l.ctrl)
	l.mu.Unlock()
	notify(l.wake)
}

// takeHaves appends the held-back Haves to msgs as messages and forgets
// them. Called with l.mu held.
func (l *link) takeHaves(msgs []wire.Msg) []wire.Msg {
	for _, i := range l.haves {
		msgs = append(msgs, wire.Msg{Type: wire.Have, Index: i})
	}
	l.haves = l.haves[:0]
	return msgs
}

// announceHave tells l's peer of piece i soon: with l's next write, at
// once when haveBatch Haves wait, or when the session's Have timer fires.
// Called by the session goroutine.
func (s *Session) announceHave(l *link, i int) {
	if l.announce(i) >= haveBatch {
		l.releaseHaves()
		return
	}
	if s.havesDue == nil {
		s.havesTimer = time.NewTimer(s.cfg.HaveDelay)
		s.havesDue = s.havesTimer.C
	}
}

// releaseHaves sends every link's held-back Haves now. Called by the
// session goroutine.
func (s *Session) releaseHaves() {
	if s.havesTimer != nil {
		s.havesTimer.Stop()
	}
	s.havesTimer, s.havesDue = nil, nil
	for _, l := range s.links {
		l.releaseHaves()
	}
}
