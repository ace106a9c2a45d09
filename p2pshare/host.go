package p2pshare

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	crypto_pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// Gater is the connection gater a host brought in Config.Host must be
// built with: a p2pshare node refuses revoked and blocked peers while their
// connection's security handshake runs, which a gater alone can do and
// which cannot be added to a host after it is built. Make one with
// NewGater, pass it to libp2p.ConnectionGater when building the host, and
// give it as Config.HostGater too.
//
// While a Swarm runs on the host, the gater refuses the peers its network
// revoked, those the node blocked for a while (a peer that kept wasting
// piece streams), and, on the bootstrap, addresses that used up their
// failed admission attempts; every other connection passes, the
// program's own included. Before the Swarm starts and after it closes it
// passes every connection. A Gater serves one Swarm at a time.
type Gater struct {
	inner atomic.Pointer[connmgr.ConnectionGater]
	used  atomic.Bool
}

// NewGater returns a gater that passes every connection until a Swarm
// starts on its host.
func NewGater() *Gater { return &Gater{} }

var _ connmgr.ConnectionGater = (*Gater)(nil)

func (g *Gater) set(inner connmgr.ConnectionGater) {
	if inner == nil {
		g.inner.Store(nil)
		return
	}
	g.inner.Store(&inner)
}

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptPeerDial(p peer.ID) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptPeerDial(p)
	}
	return true
}

// InterceptAddrDial implements connmgr.ConnectionGater.
func (g *Gater) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptAddrDial(p, a)
	}
	return true
}

// InterceptAccept implements connmgr.ConnectionGater.
func (g *Gater) InterceptAccept(a network.ConnMultiaddrs) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptAccept(a)
	}
	return true
}

// InterceptSecured implements connmgr.ConnectionGater.
func (g *Gater) InterceptSecured(d network.Direction, p peer.ID, a network.ConnMultiaddrs) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptSecured(d, p, a)
	}
	return true
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptUpgraded(c)
	}
	return true, 0
}

// checkHost checks the fields that go with Config.Host: the host builds
// its own transports, and its gater is the one way to screen its
// connections.
func (c Config) checkHost() error {
	if c.Host == nil {
		if c.HostGater != nil {
			return fmt.Errorf("p2pshare: Config.HostGater is set without Config.Host")
		}
		return nil
	}
	switch {
	case c.HostGater == nil:
		return fmt.Errorf("p2pshare: Config.Host needs Config.HostGater: build the host with libp2p.ConnectionGater(g) for g := p2pshare.NewGater() and set HostGater to g, so that revoked and blocked peers are refused at the handshake")
	case len(c.ListenAddrs) > 0:
		return fmt.Errorf("p2pshare: Config.ListenAddrs is set with Config.Host: the host listens where it was told to")
	case c.QUIC:
		return fmt.Errorf("p2pshare: Config.QUIC is set with Config.Host: the host's transports are its own")
	case c.MaxPeers != 0:
		return fmt.Errorf("p2pshare: Config.MaxPeers is set with Config.Host: the host's resource limits are its own")
	case c.Metrics != nil:
		return fmt.Errorf("p2pshare: Config.Metrics is set with Config.Host: the host's metrics are its own")
	}
	return nil
}

// hostKey is the private key of a host brought in Config.Host, which must
// be an Ed25519 key, and Config.Identity's if that is set too.
func hostKey(h host.Host, own crypto.PrivKey) (crypto.PrivKey, error) {
	k := h.Peerstore().PrivKey(h.ID())
	switch {
	case k == nil:
		return nil, fmt.Errorf("p2pshare: Config.Host's peerstore keeps no private key for its peer %s", h.ID())
	case k.Type() != crypto_pb.KeyType_Ed25519:
		return nil, fmt.Errorf("p2pshare: Config.Host's identity is a %s key; p2pshare needs an Ed25519 key", k.Type())
	case own != nil && !own.Equals(k):
		return nil, fmt.Errorf("p2pshare: Config.Identity is not the key of Config.Host's peer %s", h.ID())
	}
	return k, nil
}

// nodeKey is the node's identity: Config.Host's, else Config.Identity,
// else the key kept in DataDir, else a fresh one.
func nodeKey(cfg *Config) (crypto.PrivKey, error) {
	if cfg.Host == nil {
		return identity(cfg.DataDir, cfg.Identity)
	}
	k, err := hostKey(cfg.Host, cfg.Identity)
	if err != nil {
		return nil, err
	}
	return k, ownIdentity(cfg.DataDir, k)
}

// gateSetter is the gater a node's host was built with, which screens
// with the node's Membership once it has one.
type gateSetter interface{ set(connmgr.ConnectionGater) }

// openHost returns the node's host: Config.Host, or a new one with key.
func openHost(cfg *Config, key crypto.PrivKey, keep int) (host.Host, gateSetter, error) {
	if cfg.Host != nil {
		if !cfg.HostGater.used.CompareAndSwap(false, true) {
			return nil, nil, fmt.Errorf("p2pshare: Config.HostGater serves a Swarm that is running on Config.Host already (peer %s)", cfg.Host.ID())
		}
		return cfg.Host, cfg.HostGater, nil
	}
	gate := &pendingGater{}
	h, err := ihost.New(ihost.Options{Key: key, ListenAddrs: cfg.listenAddrs(), MaxPeers: cfg.MaxPeers, Keep: keep, QUIC: cfg.QUIC, Gater: gate, Metrics: cfg.Metrics})
	if err != nil {
		return nil, nil, fmt.Errorf("p2pshare: %w", err)
	}
	return h, gate, nil
}

// closeHost closes the node's own host, or gives one brought in
// Config.Host back to its program: every p2pshare protocol handler
// removed, the contacts' connections no longer protected, the gater
// passing everything again. That host stays up.
func closeHost(cfg *Config, h host.Host, contacts []peer.AddrInfo) error {
	if cfg.Host == nil {
		return h.Close()
	}
	for _, p := range h.Mux().Protocols() {
		if strings.HasPrefix(string(p), protocolPrefix) {
			h.RemoveStreamHandler(p)
		}
	}
	for _, ai := range contacts {
		h.ConnManager().Unprotect(ai.ID, bootstrapTag)
	}
	cfg.HostGater.set(nil)
	cfg.HostGater.used.Store(false)
	return nil
}

// protocolPrefix begins every protocol ID p2pshare speaks.
const protocolPrefix = "/p2pshare/"
