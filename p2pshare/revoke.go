package p2pshare

import (
	"context"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// RevokeOptions shape a revocation (Swarm.RevokeWith).
type RevokeOptions struct {
	// CancelInvite also cancels the invite that admitted the member, so
	// that nobody joins with it any more. A class-wide invite then admits
	// nobody else either: make a new one.
	CancelInvite bool
}

// RevokeWith is Revoke with options. A revoked member's peer ID and name
// stay refused at admission, a fresh identity under the old name included,
// until Lift.
func (s *Swarm) RevokeWith(who string, o RevokeOptions) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node revokes members")
	}
	if err := s.net.boot.RevokeWith(who, membership.RevokeOptions{CancelInvite: o.CancelInvite}); err != nil {
		return public("", err)
	}
	s.storeCRLNow()
	return nil
}

// Lift lifts the revocation of a member, named by its name or peer ID: the
// name and the peer may be admitted again, with an invite, as a newcomer
// is. The revoked certificate stays revoked (a student whose DataDir holds
// it joins again with a fresh one). Only the bootstrap node can lift.
func (s *Swarm) Lift(who string) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node lifts revocations")
	}
	if err := s.net.boot.Lift(who); err != nil {
		return public("", err)
	}
	s.storeCRLNow()
	return nil
}

// CancelInvite cancels an invite, given as the invite string itself or as
// its token ID (32 hex digits): nobody joins with it from then on, and a
// newcomer who brings it is told it was cancelled. The members it admitted
// stay members. Only the bootstrap node can cancel.
func (s *Swarm) CancelInvite(invite string) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node cancels invites")
	}
	id := strings.TrimSpace(invite)
	if strings.HasPrefix(id, membership.InvitePrefix) {
		inv, err := membership.ParseInvite(id)
		if err != nil {
			return public("", err)
		}
		if inv.CAFingerprint != s.net.boot.CA().Fingerprint() {
			return errorOf(ErrWrongNetwork, nil, "the invite with token %s is for another network", inv.TokenIDString())
		}
		id = inv.TokenIDString()
	}
	if err := s.net.boot.CancelInvite(id); err != nil {
		return public("", err)
	}
	return nil
}

// storeCRLNow stores the bootstrap's new CRL in the DHT before returning,
// as Revoke does: members hear of it by gossip at once, and the DHT keeps
// it for those offline now.
func (s *Swarm) storeCRLNow() {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.storeCRL(ctx); err != nil {
		s.log.Warn("storing the CRL in the DHT", "err", err)
	}
}
