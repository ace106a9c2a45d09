package membership

import (
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
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
// GuardHandler. Give it to code that installs its own handlers, such as
// kad-dht (discovery.New), so that outsiders get no DHT answer either.
func (m *Membership) Guard(h host.Host) host.Host { return guardedHost{Host: h, m: m} }

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
