package membership

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
)

// RevokeOptions shape a revocation.
type RevokeOptions struct {
	// CancelInvite also cancels the invite (join token) that admitted the
	// member, so that nobody joins with it any more. A class-wide invite
	// then admits nobody else either: hand out a new one.
	CancelInvite bool
}

// Revoke removes a member, named by its name or its peer ID, as RevokeWith
// does with no options.
func (b *Bootstrap) Revoke(who string) error { return b.RevokeWith(who, RevokeOptions{}) }

// RevokeWith removes a member, named by its name or its peer ID: it is
// recorded durably, a new CRL is signed, and the bootstrap's Membership
// drops the peer and pushes the CRL to every connected member, who pass it
// on. The member's peer ID and name stay refused at admission — a fresh
// key under the old name included — until Lift.
func (b *Bootstrap) RevokeWith(who string, o RevokeOptions) error {
	b.crlMu.Lock()
	defer b.crlMu.Unlock()
	now := b.cfg.Now()
	rv, n, err := b.w.revoke(who, o.CancelInvite, now)
	if err != nil {
		return err
	}
	b.log.Info("member revoked", "peer", rv.Peer, "name", rv.Name, "crl", n, "invite_cancelled", o.CancelInvite)
	return b.publishCRL(n, []peer.ID{rv.Peer})
}

// Lift lifts the revocation of a peer or a name (who is a peer ID or a
// name): both may be admitted again, with an invite, as a newcomer is. The
// certificates revoked stay revoked; the new CRL lists them as superseded,
// so members stop refusing the peer itself.
func (b *Bootstrap) Lift(who string) error {
	b.crlMu.Lock()
	defer b.crlMu.Unlock()
	rvs, n, err := b.w.lift(who, b.cfg.Now())
	if err != nil {
		return err
	}
	var ps []peer.ID
	for _, rv := range rvs {
		ps = append(ps, rv.Peer)
		b.log.Info("revocation lifted", "peer", rv.Peer, "name", rv.Name, "crl", n)
	}
	b.mu.Lock()
	m := b.m
	b.mu.Unlock()
	if m != nil {
		m.liftPeers(ps)
	}
	return b.publishCRL(n, nil)
}

// CancelInvite cancels an invite, named by its token ID (hex, as
// Invite.TokenIDString gives it): it admits nobody from now on, and a
// newcomer who brings it is told so. Members it admitted stay members.
func (b *Bootstrap) CancelInvite(tokenID string) error {
	id := strings.ToLower(strings.TrimSpace(tokenID))
	if len(id) != 32 || !isHex(id) {
		return fmt.Errorf("membership: token ID %q is not 32 hex digits", tokenID)
	}
	t, err := b.w.cancelToken(id, b.cfg.Now())
	if err != nil {
		return err
	}
	b.log.Info("invite cancelled", "token", t.ID, "uses_left", t.UsesLeft)
	return nil
}

// publishCRL signs CRL number n over the registry's revocations, keeps it
// as the one admissions hand out, and applies it on the bootstrap's node,
// which drops the peers in drop and spreads it. The caller holds b.crlMu,
// so CRLs are signed and applied in the order of their numbers.
func (b *Bootstrap) publishCRL(n int64, drop []peer.ID) error {
	der, err := b.CA().CreateCRL(n, b.reg.Revoked(), b.cfg.Now())
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.crl = der
	m := b.m
	b.mu.Unlock()
	if m == nil {
		return nil
	}
	err = m.applyCRL(der, "", drop)
	if errors.Is(err, ErrStaleCRL) {
		// In a coordinator group, another coordinator that applied the
		// same committed change signed this number's list first, and it
		// reached this node already: the same revocations.
		bars := make(map[peer.ID]string, len(drop))
		for _, p := range drop {
			bars[p] = ""
		}
		m.revokePeers(bars, fmt.Sprintf("CRL %d", n))
		return nil
	}
	return err
}

// RefreshCRL signs the newest CRL again under its number, current for
// CRLValidity from now, once less than half of that is left of the one
// held, and spreads it as a revocation's is: members whose list would
// otherwise go stale take the refresh. It reports whether it signed one;
// with nobody ever revoked there is no list to refresh.
func (b *Bootstrap) RefreshCRL() (bool, error) {
	b.crlMu.Lock()
	defer b.crlMu.Unlock()
	n := b.reg.CRLNumber()
	if n == 0 {
		return false, nil
	}
	b.mu.Lock()
	cur := b.crl
	b.mu.Unlock()
	if l, err := x509.ParseRevocationList(cur); err == nil && l.NextUpdate.Sub(b.cfg.Now()) > CRLValidity/2 {
		return false, nil
	}
	return true, b.publishCRL(n, nil)
}
