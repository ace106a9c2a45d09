package membership

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// GuardHandler wraps a stream handler so that it serves members only: the
// remote must be (or become, within the exchange deadline) a member, else
// the stream is reset before the handler reads a byte.
func (m *Membership) GuardHandler(next network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !m.Allow(s.Conn().RemotePeer()) {
			_ = s.Reset()
			return
		}
		next(s)
	}
}

// Guard returns h with every stream handler set through it wrapped by
// GuardHandler, and every stream opened through it screened by
// AwaitMember. Give it to code that installs its own handlers and opens
// its own streams, such as kad-dht (discovery.New), so that outsiders get
// no DHT answer either, and a peer that some answer named (a lookup's
// closer peers) is asked nothing, and so told no key, unless it proves
// itself a member.
func (m *Membership) Guard(h host.Host) host.Host { return guardedHost{Host: h, m: m} }

// NewStream connects to p as the host's NewStream would, then opens the
// stream only once p is a member: on a connection made just now, that
// waits for the exchange the connection runs (a round trip), and on one
// already proven, not at all.
func (g guardedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if nodial, _ := network.GetNoDial(ctx); !nodial {
		if err := g.Host.Connect(ctx, peer.AddrInfo{ID: p}); err != nil {
			return nil, err
		}
	}
	if !g.m.AwaitMember(ctx, p) {
		return nil, fmt.Errorf("membership: not opening %v to %s: %w", pids, p, ErrNotMember)
	}
	return g.Host.NewStream(ctx, p, pids...)
}

type guardedHost struct {
	host.Host
	m *Membership
}

func (g guardedHost) SetStreamHandler(pid protocol.ID, hd network.StreamHandler) {
	g.Host.SetStreamHandler(pid, g.m.GuardHandler(hd))
}

func (g guardedHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, hd network.StreamHandler) {
	g.Host.SetStreamHandlerMatch(pid, match, g.m.GuardHandler(hd))
}
