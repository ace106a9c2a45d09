package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	crypto_pb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a node. The zero value of every field is usable and
// means what its comment says; Validate reports a bad value by field name.
type Config struct {
	// DataDir keeps the node's identity key, so its peer ID survives a
	// restart. Empty means a fresh identity each run, kept nowhere.
	DataDir string
	// Identity is the node's libp2p identity key, for a program that
	// already has one: the node's peer ID is then that key's. It must be an
	// Ed25519 key (messages are sealed to a member's public key, which its
	// peer ID is). It is kept nowhere: DataDir's own key file is neither
	// read nor written, and a DataDir that keeps another peer's key is
	// refused, since its membership belongs to that peer. Nil means the key
	// in DataDir, made there on the first start.
	Identity crypto.PrivKey
	// Host, if set, is the libp2p host the node runs on, for a program
	// that already runs one; nil means a host of the node's own. p2pshare
	// adds its protocols (/p2pshare/…) to the host, and Close removes them
	// and leaves the host running. The host must have been built with
	// HostGater as its connection gater (see Gater: without it revoked
	// peers could not be refused at the handshake), and must keep its
	// Ed25519 private key in its peerstore: its peer ID is the node's
	// (Identity, if set too, must be that key). ListenAddrs, QUIC,
	// MaxPeers and Metrics, which shape the host p2pshare builds, must be
	// unset. The host's resource limits and connection manager are its
	// own: libp2p's defaults suit a member, but a bootstrap that a whole
	// class joins at once needs limits sized for it (p2pshare's own host
	// allows twice MaxPeers connections, with no cap per IP address below
	// that). One Swarm runs on a host at a time.
	Host host.Host
	// HostGater is the gater Host was built with (NewGater); it is
	// required with Host, and nothing without it.
	HostGater *Gater
	// ListenAddrs are the multiaddrs to listen on. Empty means every
	// interface, a port chosen by the system: /ip4/0.0.0.0/tcp/0.
	ListenAddrs []ma.Multiaddr
	// Invite, from the network's bootstrap node (Swarm.Invite), admits this
	// node to a network the first time it starts; its certificate is then
	// kept in DataDir, and later starts need no invite. A node with no
	// invite, no membership in DataDir and no NewNetwork is refused.
	Invite string
	// NewNetwork starts a new network, with this node as its bootstrap
	// (the holder of its CA, which admits members), when DataDir holds no
	// membership yet. A DataDir that already holds one (a network's CA, or
	// a member certificate) goes on with it, NewNetwork or not, so one
	// Config serves every start. It cannot go with Invite or
	// BootstrapPeers, which join a network that exists.
	NewNetwork bool
	// Name is the member name to ask for when joining (a roll number, say);
	// empty means one made from the peer ID.
	Name string
	// BootstrapPeers are further members to reach the network through
	// (Swarm.AddrInfo of each); the invite's bootstrap, and the contacts
	// a member keeps in DataDir, are always used. Each needs a peer ID and
	// at least one address; two entries of one peer are merged.
	BootstrapPeers []peer.AddrInfo
	// AllowNames, on a bootstrap node, are the only names that shared
	// invites may admit (a class's roll numbers, say); a name off the list
	// is refused, and told so. The bootstrap keeps the list with its
	// registry: a non-nil AllowNames replaces the kept list, nil keeps it
	// (none on a new network: any name may join). Swarm.AllowName and
	// Swarm.SetAllowNames change it while the node runs. Invites bound to a
	// name (InviteOptions.Name) admit that name, listed or not. With
	// Coordinators, the list is committed to the group's log at each
	// start and holds at every coordinator (coordinator_policy.go).
	AllowNames []string
	// MaxPerAddress, on a bootstrap node, caps how many members one source
	// address (an IPv4 address, an IPv6 /64) may have admitted with shared
	// invites; the next is refused. 0 means no cap, the default, because a
	// whole class behind one NAT, or a demo on 127.0.0.1, is one address.
	// With Coordinators, the cap is committed to the group's log at each
	// start, and counts the members every coordinator admitted.
	MaxPerAddress int
	// Approve, on a bootstrap node, is asked about every join that passed
	// every other check (a teacher says yes or no); the string is the reason
	// a refused newcomer sees. Meanwhile the newcomer is told that it waits
	// for approval. ctx ends when the newcomer gives up (its JoinTimeout),
	// after 2 minutes, or when the node closes; the join is refused then.
	// Nil means every valid invite is enough. With Coordinators, joins
	// need approval at every coordinator, and Approve is asked about each
	// whichever coordinator the newcomer reached; a co-coordinator
	// (Coordinator) with Approve is asked too, and the first answer
	// decides (internal/coord/approval.go says why).
	Approve func(ctx context.Context, r JoinRequest) (bool, string)
	// OnApprovalWait, on a newcomer, is called once if the bootstrap holds
	// its join for the teacher's approval, with the bootstrap's words
	// (`waiting for the teacher to approve "s1234" (up to 2m0s)`), so a
	// program can tell its user why joining takes a while. Nil means the
	// wait is only logged.
	OnApprovalWait func(reason string)
	// Coordinators, on a bootstrap node, keeps the network's registry in a
	// coordinator group (coordinator.go) from its start, and names the
	// members it appoints co-coordinators when they ask (Coordinator);
	// Swarm.Appoint adds names later. Nil runs no group: the registry is
	// the bootstrap's file alone. A node started once with a group keeps
	// it. The group's first start takes over the bootstrap's registry
	// file, if it has one (members, names, tokens, revocations), once.
	Coordinators []string
	// Coordinator, on a member, asks its bootstrap to appoint it a
	// co-coordinator, and waits (up to JoinTimeout) until it is: it then
	// admits newcomers, signs certificates and revocations, and keeps the
	// registry with the other coordinators, so joins go on while a
	// majority of them is up.
	Coordinator bool
	// RootKeyFile, on a bootstrap whose root key was taken offline
	// (Swarm.ExportRootKey), is the file that holds it, brought back for
	// this run: the node signs with the root again — appoints coordinators,
	// renews their certificates — without copying the key into DataDir.
	// Empty: the key in DataDir, or, once it went offline, none (the node
	// admits under its own coordinator certificate).
	RootKeyFile string
	// UploadLimit and DownloadLimit cap piece payload in bytes per second,
	// across all shares and peers of the node. 0 means no cap.
	UploadLimit, DownloadLimit int64
	// ProvideInterval is how often the node re-announces the shares it
	// holds, give or take a quarter; a member that leaves is forgotten
	// as a provider within three of them. 0 means 5 minutes.
	ProvideInterval time.Duration
	// MaxPeers is how many connections the node must carry at once (a class,
	// with room to spare). 0 means 1100.
	MaxPeers int
	// QUIC adds a QUIC transport beside TCP. It costs about 3x the CPU per GB.
	QUIC bool
	// JoinTimeout bounds New's admission and then its joining the DHT,
	// each on its own; within it a join that finds no bootstrap peer
	// speaking the DHT tries again, waiting from 250 ms up to 4 s between
	// tries, and its error lists what each try met. 0 means 30 s.
	JoinTimeout time.Duration
	// Replicas is how many nodes hold each DHT record and each parked
	// message (Kademlia's k). 0 means 20.
	Replicas int
	// Republish is how often the node re-checks the DHT records and parked
	// messages it holds, re-storing them on the nodes now closest to their
	// keys and handing off what it is no longer responsible for. 0 means
	// 10 minutes.
	Republish time.Duration
	// MessageTTL is how long a message waits for an offline recipient.
	// 0 means 7 days.
	MessageTTL time.Duration
	// Metrics, if set, receives libp2p's own metrics (connections, streams,
	// handshakes, the resource manager); p2pshare's are Swarm.Metrics.
	// Nil keeps none.
	Metrics prometheus.Registerer
	// Datastore keeps the node's DHT records and the messages it holds
	// for offline members, under the keys /p2pshare/dht,
	// /p2pshare/dht-charges (each member's quota here) and
	// /p2pshare/mailbox, so a node that restarts serves them still (each
	// checked again first: expiry, signatures, revocations). The node
	// does not close it. Nil means a datastore of the node's own in
	// DataDir/datastore, or in memory when DataDir is empty.
	Datastore ds.Batching
	// Logger receives the node's logs. Nil means go-log's slog handler, which
	// GOLOG_LOG_LEVEL controls (errors only by default).
	Logger *slog.Logger

	// now is the node's clock; nil means time.Now. Tests set it.
	now func() time.Time
	// flightTimeout is how long a piece sent with no upload cap waits for
	// its Have; 0 means swarm.DefaultFlightTimeout. Tests lengthen it.
	flightTimeout time.Duration
	// haveDelay is how long a Have to a peer that did not send the piece
	// may wait for company; 0 means swarm.DefaultHaveDelay. Tests lengthen
	// it.
	haveDelay time.Duration
	// coordTTL is the lifetime of the coordinator certificates the root
	// signs; 0 means membership.DefaultCoordinatorTTL. Tests shorten it.
	coordTTL time.Duration
}

// clock is the node's clock.
func (c *Config) clock() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// Validate checks every field and names the first bad one. It has a value
// receiver, so Config{...}.Validate() works on a literal too.
func (c Config) Validate() error {
	if c.Identity != nil && c.Identity.Type() != crypto_pb.KeyType_Ed25519 {
		return fmt.Errorf("p2pshare: Config.Identity is a %s key; p2pshare needs an Ed25519 key", c.Identity.Type())
	}
	if err := c.checkHost(); err != nil {
		return err
	}
	for i, a := range c.ListenAddrs {
		if len(a) == 0 {
			return fmt.Errorf("p2pshare: Config.ListenAddrs[%d] is empty", i)
		}
	}
	if _, err := c.bootstrap(); err != nil {
		return err
	}
	switch {
	case c.NewNetwork && c.Invite != "":
		return errors.New("p2pshare: Config.NewNetwork and Config.Invite are both set: a node starts a new network or joins one with an invite, not both")
	case c.Coordinator && c.NewNetwork:
		return errors.New("p2pshare: Config.Coordinator and Config.NewNetwork are both set: a new network's bootstrap is its first coordinator already (Config.Coordinators starts its group)")
	case c.RootKeyFile != "" && (c.Invite != "" || c.Coordinator):
		return errors.New("p2pshare: Config.RootKeyFile with Config.Invite or Config.Coordinator: the root key belongs to the network's bootstrap, not to a member")
	case c.Coordinators != nil && c.Invite != "":
		return errors.New("p2pshare: Config.Coordinators and Config.Invite are both set: the bootstrap appoints coordinators, and a member asks to be one (Config.Coordinator)")
	case c.NewNetwork && len(c.BootstrapPeers) > 0:
		return errors.New("p2pshare: Config.NewNetwork and Config.BootstrapPeers are both set: a new network has no members to join through")
	}
	switch {
	case c.UploadLimit < 0:
		return fmt.Errorf("p2pshare: Config.UploadLimit %d is negative", c.UploadLimit)
	case c.DownloadLimit < 0:
		return fmt.Errorf("p2pshare: Config.DownloadLimit %d is negative", c.DownloadLimit)
	case c.ProvideInterval < 0:
		return fmt.Errorf("p2pshare: Config.ProvideInterval %v is negative", c.ProvideInterval)
	case c.MaxPeers < 0:
		return fmt.Errorf("p2pshare: Config.MaxPeers %d is negative", c.MaxPeers)
	case c.JoinTimeout < 0:
		return fmt.Errorf("p2pshare: Config.JoinTimeout %v is negative", c.JoinTimeout)
	case c.Replicas < 0:
		return fmt.Errorf("p2pshare: Config.Replicas %d is negative", c.Replicas)
	case c.Republish < 0:
		return fmt.Errorf("p2pshare: Config.Republish %v is negative", c.Republish)
	case c.MessageTTL < 0:
		return fmt.Errorf("p2pshare: Config.MessageTTL %v is negative", c.MessageTTL)
	case c.MaxPerAddress < 0:
		return fmt.Errorf("p2pshare: Config.MaxPerAddress %d is negative", c.MaxPerAddress)
	}
	for i, n := range c.AllowNames {
		if err := CheckName(n); err != nil {
			return fmt.Errorf("p2pshare: Config.AllowNames[%d]: %s", i, strings.TrimPrefix(err.Error(), "p2pshare: "))
		}
	}
	return nil
}

func (c *Config) listenAddrs() []ma.Multiaddr {
	if len(c.ListenAddrs) == 0 {
		return []ma.Multiaddr{ma.StringCast("/ip4/0.0.0.0/tcp/0")}
	}
	return c.ListenAddrs
}

// bootstrap checks BootstrapPeers and merges the addresses of one peer.
func (c *Config) bootstrap() ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	at := map[peer.ID]int{}
	for i, ai := range c.BootstrapPeers {
		switch {
		case ai.ID == "":
			return nil, fmt.Errorf("p2pshare: Config.BootstrapPeers[%d] %v has no peer ID", i, ai.Addrs)
		case ai.ID.Validate() != nil:
			return nil, fmt.Errorf("p2pshare: Config.BootstrapPeers[%d]: peer ID %q: %v", i, string(ai.ID), ai.ID.Validate())
		case len(ai.Addrs) == 0:
			return nil, fmt.Errorf("p2pshare: Config.BootstrapPeers[%d] (peer %s) has no address", i, ai.ID)
		}
		for _, a := range ai.Addrs {
			if len(a) == 0 {
				return nil, fmt.Errorf("p2pshare: Config.BootstrapPeers[%d] (peer %s) has an empty address", i, ai.ID)
			}
		}
		if k, ok := at[ai.ID]; ok {
			out[k].Addrs = append(out[k].Addrs, ai.Addrs...)
			continue
		}
		at[ai.ID] = len(out)
		out = append(out, peer.AddrInfo{ID: ai.ID, Addrs: slices.Clone(ai.Addrs)})
	}
	return out, nil
}
