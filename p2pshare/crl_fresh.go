package p2pshare

import (
	"context"
	"time"
)

// keepCRLCurrent runs twice a day (renewLoop) and at start: the bootstrap
// signs its revocation list again before it goes stale and stores the
// refresh in the DHT; a member whose list went stale (past its
// NextUpdate, no refresh came) says so and asks the DHT for a newer one,
// and says so again if none came: revocations may be missing from it.
func (s *Swarm) keepCRLCurrent(ctx context.Context) {
	if b := s.net.boot; b != nil {
		refreshed, err := b.RefreshCRL()
		switch {
		case err != nil:
			s.log.Warn("signing the revocation list again", "err", err)
		case refreshed:
			s.publishCRL()
		}
		return
	}
	since, stale := s.net.m.CRLStale(s.cfg.clock())
	if !stale {
		return
	}
	s.log.Warn("the revocation list is stale: asking the DHT for a newer one",
		"crl", s.net.m.CRLNumber(), "current_until", since.UTC().Format(time.RFC3339))
	s.fetchCRL(ctx)
	if since, stale := s.net.m.CRLStale(s.cfg.clock()); stale {
		s.log.Warn("the revocation list is still stale: revocations since may be missing; is the bootstrap running?",
			"crl", s.net.m.CRLNumber(), "current_until", since.UTC().Format(time.RFC3339))
	}
}
