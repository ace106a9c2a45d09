// Package host builds the libp2p host a p2pshare node runs on: TCP with TLS 1.3
// or Noise and yamux for bulk data (QUIC optional), loopback and LAN addresses
// kept, and resource limits sized for a whole class connecting to one node,
// many of them from behind one NAT address.
package host

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	xrate "github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2pshare/p2pshare/internal/wire"
)

// Options configure a host. The zero value of each field has the meaning its
// comment gives.
type Options struct {
	Key         crypto.PrivKey // the node's identity; required
	ListenAddrs []ma.Multiaddr // TCP, and QUIC if QUIC is set; none: dial only
	MaxPeers    int            // connections the node must carry at once; 0 means 1100
	QUIC        bool           // also run QUIC (about 3x the CPU per GB of TCP)
	// Keep is how many connections the node keeps open when idle, apart
	// from the protected ones (host.ConnManager().Protect). Once it holds
	// twice as many, the connection manager closes the least useful of
	// those older than TrimGrace until Keep remain. 0 means MaxPeers: a
	// node that serves the whole class (the bootstrap) keeps what it can
	// carry. MaxPeers bounds what a node can carry; Keep, what it holds on
	// to.
	Keep int
	// Gater, if set, screens every connection during its handshake: the
	// membership layer refuses blocked and revoked peers there.
	Gater coreconnmgr.ConnectionGater
	// Metrics, if set, receives libp2p's own metrics (connections, streams,
	// handshakes, identify, the event bus, the resource manager). Nil means
	// none are kept.
	Metrics prometheus.Registerer
}

// New starts a libp2p host listening on opts.ListenAddrs.
func New(opts Options) (host.Host, error) {
	if opts.Key == nil {
		return nil, errors.New("host: no identity key")
	}
	maxPeers := opts.MaxPeers
	if maxPeers <= 0 {
		maxPeers = 1100
	}
	reg := opts.Metrics
	rm, err := resourceManager(maxPeers, reg != nil)
	if err != nil {
		return nil, err
	}
	low, high := maxPeers, maxPeers+maxPeers/4
	if opts.Keep > 0 {
		low, high = min(opts.Keep, maxPeers), min(2*opts.Keep, maxPeers+maxPeers/4)
	}
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(TrimGrace))
	if err != nil {
		return nil, fmt.Errorf("host: connection manager: %w", err)
	}
	o := []libp2p.Option{
		libp2p.Identity(opts.Key),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(libp2ptls.ID, newBatchedTLS),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
	}
	if reg != nil {
		o = append(o, libp2p.PrometheusRegisterer(reg))
	} else {
		o = append(o, libp2p.DisableMetrics())
	}
	if opts.QUIC {
		o = append(o, libp2p.Transport(quic.NewTransport))
	}
	if len(opts.ListenAddrs) == 0 {
		o = append(o, libp2p.NoListenAddrs)
	} else {
		o = append(o, libp2p.ListenAddrs(opts.ListenAddrs...))
	}
	if opts.Gater != nil {
		o = append(o, libp2p.ConnectionGater(opts.Gater))
	}
	h, err := libp2p.New(o...)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return h, nil
}

// TrimGrace is how long a new connection is safe from the connection
// manager's trims: long enough for the DHT lookup or the handshake that
// opened it to finish on a busy machine, short enough that a member's
// connections fall back to Options.Keep soon after its lookups end. A
// trim runs at most every 10 s (libp2p's silence period), so an idle
// connection lasts between TrimGrace and TrimGrace+10 s.
const TrimGrace = 20 * time.Second

// Limits on what one peer may hold with this node. They bound what a
// member that floods this node with streams can take; an honest member
// stays far below them.
const (
	MaxStreamsPerPeer         = 256       // of any protocol, each way
	MaxPieceStreamsPerPeer    = 64        // piece exchange: one per share traded
	MaxManifestStreamsPerPeer = 16        // manifest lookups at once
	MaxMemoryPerPeer          = 128 << 20 // stream windows and buffers
)

// resourceManager sizes libp2p's limits for maxPeers connections, with no
// per-address cap below the class size: a lab behind one NAT address must not
// be cut off at libp2p's default of 8 connections per IP. With metrics, it
// reports its usage to libp2p's resource manager metrics.
func resourceManager(maxPeers int, metrics bool) (network.ResourceManager, error) {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(2<<30, 4*maxPeers+256)
	conns := rcmgr.LimitVal(2 * maxPeers)
	streams := rcmgr.LimitVal(16 * maxPeers)
	// Every peer of the class may hold a piece stream and a few others with
	// this node at once: libp2p's default of about a thousand streams per
	// protocol would refuse a class of 1100 at the teacher's node.
	perProtocol := rcmgr.LimitVal(4 * maxPeers)
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: conns, ConnsInbound: conns, ConnsOutbound: conns,
			Streams: streams, StreamsInbound: streams, StreamsOutbound: streams,
			FD: rcmgr.LimitVal(2*maxPeers + 256),
		},
		Transient: rcmgr.ResourceLimits{
			Conns: conns, ConnsInbound: conns, ConnsOutbound: conns,
			Streams: streams, StreamsInbound: streams, StreamsOutbound: streams,
			FD: rcmgr.LimitVal(maxPeers + 64),
		},
		ProtocolDefault: rcmgr.ResourceLimits{
			Streams: perProtocol, StreamsInbound: perProtocol, StreamsOutbound: perProtocol,
		},
		// One peer, however it misbehaves, holds at most these streams
		// with this node; the bytes its streams' windows may take are
		// bounded too. An honest peer holds one piece stream per share it
		// trades with us, a manifest stream while it looks one up, and a
		// few DHT and membership streams.
		PeerDefault: rcmgr.ResourceLimits{
			Streams: MaxStreamsPerPeer, StreamsInbound: MaxStreamsPerPeer, StreamsOutbound: MaxStreamsPerPeer,
			Memory: MaxMemoryPerPeer,
		},
		ProtocolPeer: map[protocol.ID]rcmgr.ResourceLimits{
			wire.Protocol: {
				Streams: MaxPieceStreamsPerPeer, StreamsInbound: MaxPieceStreamsPerPeer, StreamsOutbound: MaxPieceStreamsPerPeer,
			},
			wire.ManifestProtocol: {
				Streams: MaxManifestStreamsPerPeer, StreamsInbound: MaxManifestStreamsPerPeer, StreamsOutbound: MaxManifestStreamsPerPeer,
			},
		},
	}
	perIP := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: 2 * maxPeers}}
	perIP6 := []rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: 2 * maxPeers}}
	// New connections per second per address: a whole class may join in the
	// same second through one NAT.
	burst := 2 * maxPeers
	connRate := &xrate.Limiter{
		NetworkPrefixLimits: []xrate.PrefixLimit{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Limit: xrate.Limit{}},
			{Prefix: netip.MustParsePrefix("::1/128"), Limit: xrate.Limit{}},
		},
		SubnetRateLimiter: xrate.SubnetLimiter{
			IPv4SubnetLimits: []xrate.SubnetLimit{{PrefixLength: 32, Limit: xrate.Limit{RPS: float64(maxPeers) / 10, Burst: burst}}},
			IPv6SubnetLimits: []xrate.SubnetLimit{{PrefixLength: 56, Limit: xrate.Limit{RPS: float64(maxPeers) / 10, Burst: burst}}},
			GracePeriod:      time.Minute,
		},
	}
	opts := []rcmgr.Option{
		rcmgr.WithLimitPerSubnet(perIP, perIP6),
		rcmgr.WithConnRateLimiters(connRate),
		rcmgr.WithNetworkPrefixLimit(
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("127.0.0.0/8"), ConnCount: math.MaxInt}},
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("::1/128"), ConnCount: math.MaxInt}},
		),
	}
	if !metrics {
		// The resource manager keeps Prometheus statistics of every scope
		// event unless told not to, whatever libp2p.DisableMetrics says:
		// a time stamp formatted and a few gauges looked up per stream
		// opened or closed, 2.7 % of a quiz class's CPU by perf.
		opts = append(opts, rcmgr.WithMetricsDisabled())
	} else {
		str, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, fmt.Errorf("host: resource manager metrics: %w", err)
		}
		opts = append(opts, rcmgr.WithTraceReporter(str))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(base)), opts...)
	if err != nil {
		return nil, fmt.Errorf("host: resource manager: %w", err)
	}
	return rm, nil
}

// LoadOrCreateKey reads the node's Ed25519 identity from path, or makes one and
// saves it there (mode 0600) if the file does not exist. A node keeps its peer
// ID across restarts this way.
func LoadOrCreateKey(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host: identity key %s is corrupt: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("host: reading identity key: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	// Synced before and after the rename: a power cut must leave either
	// no key (a fresh one next start, before anyone knew this one) or
	// this one, never an empty file in its place.
	tmp := path + ".tmp"
	if err := writeSynced(tmp, b); err != nil {
		return nil, fmt.Errorf("host: saving identity key %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("host: saving identity key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("host: saving identity key: %w", err)
	}
	return k, nil
}

// writeSynced writes b to a new file at path (mode 0600) and fsyncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir fsyncs the folder dir, so a rename into it is durable. Windows
// cannot open a folder to sync it (its renames are durable by
// themselves), and file systems that refuse to sync one are tolerated.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}
