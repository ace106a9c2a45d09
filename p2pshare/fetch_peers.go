package p2pshare

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/swarm"
)

// findPeers keeps looking up the share's providers and connecting to new
// ones while the session misses pieces and is below its link target:
// members that joined after us start providing once they hold a piece.
// The first lookup waits first (0: none).
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
		if se.WantsLinks() {
			s.dialProviders(se, sem, tried)
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

// dialProviders looks the share's providers up once and links to those not
// tried lately, up to the link target, at most cap(sem) dials at once.
func (s *Swarm) dialProviders(se *swarm.Session, sem chan struct{}, tried map[peer.ID]time.Time) {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	for ai := range s.dht.FindProviders(ctx, se.Infohash(), 0) {
		if !se.WantsLinks() {
			break
		}
		if ai.ID == s.h.ID() || se.Connected(ai.ID) || se.Banned(ai.ID) {
			continue
		}
		if t, ok := tried[ai.ID]; ok && time.Since(t) < 5*time.Second {
			continue
		}
		tried[ai.ID] = time.Now()
		if len(ai.Addrs) > 0 {
			s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
		}
		sem <- struct{}{}
		go func(p peer.ID) {
			defer func() { <-sem }()
			if err := s.reg.Connect(s.ctx, se, p); err != nil {
				s.log.Debug("connecting to provider", "peer", p, "err", err)
			}
		}(ai.ID)
	}
}

