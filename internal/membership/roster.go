package membership

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// IsMember reports whether p has presented a valid member certificate that
// is still unexpired and unrevoked, and p is not blocked. Every p2pshare
// protocol handler asks this (or Allow) before serving a stream.
func (m *Membership) IsMember(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.isMemberLocked(p, m.cfg.Now())
}

func (m *Membership) isMemberLocked(p peer.ID, now time.Time) bool {
	mc := m.roster.members[p]
	return mc != nil && now.Before(mc.NotAfter) && !m.crl.serials[serialHex(mc.Serial)] && !m.block.refused(p, now)
}

// WaitMember waits until p is a member (true), or is refused, or ctx ends
// (false). A protocol handler whose stream may arrive before the credential
// exchange has finished uses it instead of IsMember.
func (m *Membership) WaitMember(ctx context.Context, p peer.ID) bool {
	return m.waitMember(ctx, p, nil)
}

// waitMember is WaitMember that also gives up once p has no connection
// with h, if h is not nil.
func (m *Membership) waitMember(ctx context.Context, p peer.ID, h host.Host) bool {
	for {
		if h != nil && h.Network().Connectedness(p) != network.Connected {
			return false
		}
		m.mu.Lock()
		now := m.cfg.Now()
		if m.isMemberLocked(p, now) {
			m.mu.Unlock()
			return true
		}
		if m.block.refused(p, now) {
			m.mu.Unlock()
			return false
		}
		ch := m.waiterLocked(p)
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-m.ctx.Done():
			return false
		}
	}
}

// Allow screens a stream p opened to this node: the screen to pass as
// swarm.NewRegistry's allow function, and the one GuardHandler applies.
// It refuses a stream beyond p's pace of opens (StreamRate, StreamBurst;
// a peer that keeps on is blocked for BlockFor), and one of a peer not yet
// a member that already has OutsiderStreams waiting; otherwise it is
// WaitMember bounded by the exchange deadline and by p's connection.
func (m *Membership) Allow(p peer.ID) bool {
	m.mu.Lock()
	now := m.cfg.Now()
	ok, block := m.budget.open(p, now)
	if !ok {
		m.mu.Unlock()
		if block {
			m.log.Warn("peer keeps opening streams faster than allowed; blocked", "peer", p,
				"rate", float64(m.cfg.StreamRate), "burst", m.cfg.StreamBurst, "for", m.cfg.BlockFor)
			m.Block(p, now.Add(m.cfg.BlockFor))
		}
		return false
	}
	if m.isMemberLocked(p, now) {
		m.mu.Unlock()
		return true
	}
	if m.block.refused(p, now) || !m.budget.park(p) {
		m.mu.Unlock()
		return false
	}
	h := m.h
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.budget.unpark(p)
		m.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Deadline)
	defer cancel()
	return m.waitMember(ctx, p, h)
}

// AwaitMember screens a peer this node reached out to, before anything
// p answers is used: true once p is a member; false if p is refused, has
// no connection with this node, ctx ends, or Deadline passes. It starts
// no exchange of its own: on a new connection it waits for the one the
// connection runs (which on a connection this node dialled ends when p
// answers its certificate, a round trip), so a stream opened at once and
// answered meanwhile costs no round trip more.
func (m *Membership) AwaitMember(ctx context.Context, p peer.ID) bool {
	m.mu.Lock()
	member := m.isMemberLocked(p, m.cfg.Now())
	h := m.h
	m.mu.Unlock()
	if member {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Deadline)
	defer cancel()
	return m.waitMember(ctx, p, h)
}

// Member returns the certificate p presented, if p is a member.
func (m *Membership) Member(p peer.ID) (*MemberCert, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.isMemberLocked(p, m.cfg.Now()) {
		return nil, false
	}
	return m.roster.members[p], true
}

// Members lists the peers currently admitted.
func (m *Membership) Members() []peer.ID {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	var out []peer.ID
	for p := range m.roster.members {
		if m.isMemberLocked(p, now) {
			out = append(out, p)
		}
	}
	return out
}

// Own is this node's current member certificate.
func (m *Membership) Own() *MemberCert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.own
}

// SetCert installs a renewed certificate for this node and sends it to
// every connected member (a peer not proven one gets nothing).
func (m *Membership) SetCert(der []byte) error {
	mc, err := m.verify.Verify(der, m.cfg.Self, m.cfg.Now())
	if err != nil {
		return fmt.Errorf("membership: new own certificate: %w", err)
	}
	m.mu.Lock()
	m.own = mc
	h := m.h
	m.mu.Unlock()
	if h != nil {
		for _, p := range h.Network().Peers() {
			if m.IsMember(p) {
				m.spawn(func() { m.sendCredential(p) })
			}
		}
	}
	return nil
}

// waiterLocked is p's change channel; the caller holds m.mu.
func (m *Membership) waiterLocked(p peer.ID) chan struct{} {
	ch, ok := m.roster.waiters[p]
	if !ok {
		ch = make(chan struct{})
		m.roster.waiters[p] = ch
	}
	return ch
}

// signal wakes everyone waiting on p's state.
func (m *Membership) signal(p peer.ID) {
	m.mu.Lock()
	m.signalLocked(p)
	m.mu.Unlock()
}

func (m *Membership) signalLocked(p peer.ID) {
	if ch, ok := m.roster.waiters[p]; ok {
		close(ch)
		delete(m.roster.waiters, p)
	}
}

// admit records p's verified certificate and tells the integrator.
// Introduce counts p a member on the strength of its certificate der,
// checked as a credential exchange would check it (this network's CA, p's
// key, unexpired, not revoked): a newcomer does so for the bootstrap that
// admitted it, whose certificate came with the grant over the connection it
// keeps, so no exchange on that connection has to run again.
func (m *Membership) Introduce(p peer.ID, der []byte) error {
	mc, err := m.verify.Verify(der, p, m.cfg.Now())
	if err != nil {
		return fmt.Errorf("membership: introducing %s: %w", p, err)
	}
	m.admit(p, mc)
	return nil
}

func (m *Membership) admit(p peer.ID, mc *MemberCert) {
	m.mu.Lock()
	m.budget.release(p)
	m.roomLocked()
	m.roster.members[p] = mc
	m.roster.serials[serialHex(mc.Serial)] = p
	m.signalLocked(p)
	m.mu.Unlock()
	m.log.Debug("member admitted", "peer", p, "name", mc.Name, "role", mc.Role)
	if m.cfg.OnAdmit != nil {
		m.cfg.OnAdmit(p)
	}
}

// drop disconnects p and, if block, refuses it for BlockFor.
func (m *Membership) drop(p peer.ID, why error, block bool) {
	m.mu.Lock()
	delete(m.roster.members, p)
	if block {
		now := m.cfg.Now()
		m.block.add(p, now, now.Add(m.cfg.BlockFor))
	}
	m.signalLocked(p)
	h := m.h
	m.mu.Unlock()
	m.log.Info("peer dropped", "peer", p, "blocked", block, "err", why)
	if h != nil {
		_ = h.Network().ClosePeer(p)
	}
	if m.cfg.OnDrop != nil {
		m.cfg.OnDrop(p, why)
	}
}

// beginAdmission and endAdmission bracket an admission stream on the
// bootstrap, which keeps the exchange deadline from closing the newcomer's
// connection while, say, a teacher decides. mc is the certificate just
// issued, or nil if the newcomer was refused.
func (m *Membership) beginAdmission(p peer.ID) {
	m.mu.Lock()
	m.budget.release(p) // a class behind one address may all ask at once
	m.roomLocked()
	m.roster.admitting[p]++
	m.mu.Unlock()
}

func (m *Membership) endAdmission(p peer.ID, mc *MemberCert) {
	if mc != nil {
		m.admit(p, mc)
	}
	m.mu.Lock()
	if m.roster.admitting[p]--; m.roster.admitting[p] <= 0 {
		delete(m.roster.admitting, p)
	}
	last := m.roster.admitting[p] == 0
	m.signalLocked(p)
	m.mu.Unlock()
	if mc == nil && last {
		m.cutSoon(p, fmt.Errorf("membership: peer %s was refused admission (or asked to come back later)", p))
	}
}

// cutSoon disconnects p, refused admission, unless it is a member or gone
// within OutsiderDeadline: time for it to read the reply and hang up, but
// not to hold the connection.
func (m *Membership) cutSoon(p peer.ID, why error) {
	m.spawn(func() {
		m.mu.Lock()
		h := m.h
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.OutsiderDeadline)
		defer cancel()
		if m.waitMember(ctx, p, h) || m.ctx.Err() != nil {
			return
		}
		m.cutOutsider(p, why, false)
	})
}

// waitAdmissions waits until p has no admission in progress; false if the
// Membership closed first.
func (m *Membership) waitAdmissions(p peer.ID) bool {
	for {
		m.mu.Lock()
		if m.roster.admitting[p] == 0 {
			m.mu.Unlock()
			return true
		}
		ch := m.waiterLocked(p)
		m.mu.Unlock()
		select {
		case <-ch:
		case <-m.ctx.Done():
			return false
		}
	}
}
