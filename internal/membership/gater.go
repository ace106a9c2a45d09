package membership

import (
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// maxBlocked bounds the block list: peer IDs cost an attacker nothing, so
// expired entries are swept when it grows past this.
const maxBlocked = 4096

// blocklist is the peers refused at connection time: blocked for a while
// after failing the exchange, or revoked for good. Guarded by Membership.mu.
type blocklist struct {
	until map[peer.ID]time.Time
	// revoked maps each revoked peer to the serial that bars it, or "" if
	// the bootstrap's registry does; a newer CRL listing that serial as
	// superseded lifts it (applyCRL).
	revoked map[peer.ID]string
}

func (b *blocklist) refused(p peer.ID, now time.Time) bool {
	if _, ok := b.revoked[p]; ok {
		return true
	}
	t, ok := b.until[p]
	return ok && now.Before(t)
}

func (b *blocklist) add(p peer.ID, now, until time.Time) {
	if len(b.until) >= maxBlocked {
		for q, t := range b.until {
			if !now.Before(t) {
				delete(b.until, q)
			}
		}
	}
	for q := range b.until { // still full of live entries: forget some
		if len(b.until) < 2*maxBlocked {
			break
		}
		delete(b.until, q)
	}
	b.until[p] = until
}

// Blocked reports whether p is refused at connection time.
func (m *Membership) Blocked(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.block.refused(p, m.cfg.Now())
}

// Block refuses p at connection time until the given time, and closes every
// connection to it now. It shuts a member out for a while without revoking
// it: a teacher's tool may use it, and tests use it to cut a class in two.
// Unblock ends it early.
func (m *Membership) Block(p peer.ID, until time.Time) {
	m.mu.Lock()
	m.block.add(p, m.cfg.Now(), until)
	h := m.h
	m.mu.Unlock()
	if h != nil {
		_ = h.Network().ClosePeer(p)
	}
}

// Unblock ends a block of p, one from Block or one that followed a failed
// exchange, so that p may connect again. A revoked peer stays refused.
func (m *Membership) Unblock(p peer.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.block.until, p)
}

// Gater is the libp2p connection gater holding the block list and the
// revoked peers: a refused peer dies inside the security handshake, before
// any stream. Unknown peers pass (their certificate is checked by the
// exchange right after), so outsiders can reach the admission protocol.
// Pass it to the host at construction (libp2p.ConnectionGater).
func (m *Membership) Gater() connmgr.ConnectionGater { return gater{m} }

type gater struct{ m *Membership }

var _ connmgr.ConnectionGater = gater{}

// The gater refuses blocked and revoked peers at every point where it knows
// the peer ID (dial, and after the security handshake), and nothing else.

func (g gater) InterceptPeerDial(p peer.ID) bool                 { return !g.m.Blocked(p) }
func (g gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.m.Blocked(p) }

// InterceptAccept refuses, on the bootstrap, a connection from an address
// that has used up its failed admission attempts (Bootstrap.Attach): a
// flood of bad attempts from one address, each holding its connection a
// moment after its refusal, would otherwise fill the node's connection
// limits before the door turns it away, and an honest student from
// another address would find no room. Everyone else passes.
func (g gater) InterceptAccept(cm network.ConnMultiaddrs) bool {
	g.m.mu.Lock()
	may := g.m.mayConnect
	g.m.mu.Unlock()
	return may == nil || may(sourceOf(cm.RemoteMultiaddr()))
}

func (g gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.m.Blocked(p)
}
func (g gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
