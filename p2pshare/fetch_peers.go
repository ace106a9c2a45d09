package p2pshare

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/swarm"
)

// findPeers keeps looking up the share's providers and connecting to new
// ones while the session misses pieces and either is below its link target
// or waits for data (swarm.Session.Waiting): members that joined after us
// start providing once they hold a piece, and a fetch whose holders left,
// or were banned, looks for others. Lookups back off from 250 ms to 5 s.
// A fetch that waits also asks the members it joined through, and a few it
// is connected to, whether they hold the share: a holder whose provider
// record is missing or expired is found that way. The first lookup waits
// first (0: none).
func (s *Swarm) findPeers(se *swarm.Session, first time.Duration) {
	const maxDials = 16
	sem := make(chan struct{}, maxDials)
	tried := map[peer.ID]time.Time{}
	select {
	case <-time.After(first):
	case <-se.Complete():
		return
	case <-se.Done():
		return
	}
	for wait := 250 * time.Millisecond; se.Wanted(); wait = min(wait*2, 5*time.Second) {
		if wantsPeers(se) {
			s.dialProviders(se, sem, tried)
		}
		if se.Waiting() != swarm.NotWaiting {
			s.askNeighbours(se, sem, tried)
		}
		select {
		case <-se.Complete():
			return
		case <-se.Done():
			return
		case <-time.After(wait):
		}
	}
}

// wantsPeers reports whether a fetch looks for more peers: it is below its
// link target, or it receives nothing from those it has.
func wantsPeers(se *swarm.Session) bool {
	return se.WantsLinks() || (se.Wanted() && se.Waiting() != swarm.NotWaiting)
}

// dialProviders looks the share's providers up once and links to those not
// tried lately, up to the link target, at most cap(sem) dials at once. A
// lookup that runs to its end tells the session how many holders it found
// that are not banned.
func (s *Swarm) dialProviders(se *swarm.Session, sem chan struct{}, tried map[peer.ID]time.Time) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	found, whole := 0, true
	for ai := range s.dht.FindProviders(ctx, se.Infohash(), 0) {
		if !wantsPeers(se) {
			whole = false
			break
		}
		if ai.ID == s.h.ID() || se.Banned(ai.ID) {
			continue
		}
		found++
		if se.Connected(ai.ID) {
			continue
		}
		if t, ok := tried[ai.ID]; ok && time.Since(t) < 5*time.Second {
			continue
		}
		tried[ai.ID] = time.Now()
		if len(ai.Addrs) > 0 {
			s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
		}
		s.connect(se, sem, ai.ID, "connecting to provider")
	}
	if whole && ctx.Err() == nil {
		se.NoteHolders(found)
	}
}

// askNeighbours links a waiting fetch to the members it joined through
// (the bootstrap, usually, which a class's teacher seeds from) and to a few
// it is connected to, if they hold the share: each answers a link request
// for a share it does not hold with a refusal. Each is asked at most once
// every neighbourRetry.
func (s *Swarm) askNeighbours(se *swarm.Session, sem chan struct{}, tried map[peer.ID]time.Time) {
	asked := 0
	for _, p := range append(bootIDs(s.bootPeers), s.neighbours(maxAskedNeighbours)...) {
		if asked == maxAskedNeighbours {
			return
		}
		if p == s.h.ID() || se.Connected(p) || se.Banned(p) {
			continue
		}
		if t, ok := tried[p]; ok && time.Since(t) < neighbourRetry {
			continue
		}
		tried[p] = time.Now()
		asked++
		s.connect(se, sem, p, "asking a neighbour for the share")
	}
}

// neighbourRetry is how often a waiting fetch asks one neighbour again
// whether it holds the share.
const neighbourRetry = 15 * time.Second

func bootIDs(ais []peer.AddrInfo) []peer.ID {
	ids := make([]peer.ID, len(ais))
	for i, ai := range ais {
		ids[i] = ai.ID
	}
	return ids
}

// connect links the session to p in the background, at most cap(sem)
// links at once; what logs a failure.
func (s *Swarm) connect(se *swarm.Session, sem chan struct{}, p peer.ID, what string) {
	sem <- struct{}{}
	go func() {
		defer func() { <-sem }()
		if err := s.reg.Connect(s.ctx, se, p); err != nil {
			s.log.Debug(what, "peer", p, "err", err)
		}
	}()
}
