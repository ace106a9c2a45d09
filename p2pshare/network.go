package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/coord"
	"github.com/p2pshare/p2pshare/internal/discovery"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// JoinRequest is what a newcomer asks the bootstrap for, as Config.Approve
// sees it.
type JoinRequest struct {
	Peer PeerID
	Name string
	Role string // teacher, student or seeder
	// Addr is the source address it comes from: an IPv4 address, or an
	// IPv6 /64.
	Addr string
}

// InviteOptions shape an invite.
type InviteOptions struct {
	Uses int           // how many members may join with it; 0 means 1
	TTL  time.Duration // how long it is valid; 0 means 24 hours
	// Name, if set, binds the invite to one student (a per-student
	// invite): it admits that name only, once (Uses must be 0 or 1), and
	// while it may still admit, a shared invite cannot take the name.
	Name string
}

// memberNet is the node's membership: its certificate and roster, and on the
// bootstrap node the CA and admission too.
type memberNet struct {
	m        *membership.Membership
	boot     *membership.Bootstrap // nil on a member
	tmp      string                // a DataDir made for an ephemeral node
	dht      atomic.Pointer[discovery.DHT]
	joinVia  []peer.AddrInfo // where the invite said the bootstrap is
	admitted bool            // admitted just now, with the bootstrap's newest CRL
	crl      *crlValidator
	// networkID names the network: the hex SHA-256 of its CA's public key.
	networkID string
	onCRL     atomic.Pointer[func()]
	onAdmit   atomic.Pointer[func(peer.ID)]        // the bootstrap's directory (directory.go)
	memDir    string                               // the member's credentials
	group     *coord.Group                         // the coordinator group this node is in, or nil (coordinator.go)
	appoint   *appointer                           // on a bootstrap with a group: who may become a coordinator
	syncCRL   atomic.Pointer[membership.Bootstrap] // the admissions that follow the group's revocations
	caDER     []byte
	root      rootState // the network's root key, and the coordinator certificates it signs (rootkey.go)
}

// Files in DataDir.
const (
	networkDirName  = "network" // the bootstrap's CA and registry
	memberDirName   = "member"  // this node's credentials and the newest CRL
	contactsName    = "bootstrap.addrs"
	defaultNodeName = "node"
)

// openNetwork decides what this node is — the bootstrap of a network
// (its CA in DataDir, or a new network when there is no invite), or a
// member (credentials in DataDir, or an invite to join with) — and gets its
// certificate. A newcomer is admitted over h, the node's own host, so the
// connection its admission opened to the bootstrap is the one it goes on
// using.
func openNetwork(ctx context.Context, cfg *Config, key crypto.PrivKey, log *slog.Logger, h host.Host) (*memberNet, error) {
	n := &memberNet{}
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "p2pshare-node-")
		if err != nil {
			return nil, fmt.Errorf("p2pshare: %w", err)
		}
		dir, n.tmp = tmp, tmp
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = defaultNodeName + "-" + self.String()[len(self.String())-8:]
	}
	netDir, memDir := filepath.Join(dir, networkDirName), filepath.Join(dir, memberDirName)
	n.root.netDir, n.root.ttl, n.root.kick = netDir, cfg.coordTTL, make(chan struct{}, 1)
	var inv *membership.Invite
	if cfg.Invite != "" {
		i, err := parseInvite(cfg.Invite, cfg.clock())
		if err != nil {
			return nil, err
		}
		inv = &i
	}
	var creds membership.Credentials
	switch {
	case startsAsBootstrap(cfg):
		ca, err := bootstrapCA(cfg, netDir, key)
		if err != nil {
			return nil, err
		}
		ledger, err := openGroup(cfg, h, netDir, name, n)
		if err != nil {
			return nil, err
		}
		bc := membership.BootstrapConfig{
			Dir: netDir, AllowNames: cfg.AllowNames, MaxPerAddress: cfg.MaxPerAddress, Approve: approver(cfg.Approve), Log: log, Now: cfg.now,
			Ledger: ledger, CA: ca,
		}
		if ledger != nil { // in the group's log (coordinator_policy.go)
			bc.AllowNames, bc.MaxPerAddress = nil, 0
			bc.Approve, bc.ApproveWhen = groupAsk(n.group, name), n.group.ApprovalRequired
		}
		n.boot, err = membership.OpenBootstrap(bc)
		if err != nil {
			if n.group != nil {
				_ = n.group.Close()
			}
			return nil, fmt.Errorf("p2pshare: opening the network's CA: %w", err)
		}
		if n.group != nil {
			n.syncCRL.Store(n.boot)
		}
		cert, err := n.boot.SelfCert(self, name, membership.RoleTeacher)
		if err != nil {
			n.boot.Close()
			return nil, fmt.Errorf("p2pshare: certifying the bootstrap node: %w", err)
		}
		creds = membership.Credentials{CA: n.boot.CA().CertDER(), Cert: cert, CRL: n.boot.CRL()}
		if err := sameNetwork(dir, creds.CA, inv); err != nil {
			n.boot.Close()
			return nil, err
		}
	case exists(filepath.Join(memDir, "member.crt")):
		if creds, err = membership.LoadCredentials(memDir); err != nil {
			return nil, fmt.Errorf("p2pshare: Config.DataDir: %w", err)
		}
		if c, err := membership.ParseMemberCert(creds.Cert); err == nil && c.Peer != self {
			return nil, fmt.Errorf("p2pshare: Config.DataDir %s holds the membership of peer %s, and this node is peer %s (Config.Identity): give that peer's key, or another DataDir", dir, c.Peer, self)
		}
		if err := sameNetwork(dir, creds.CA, inv); err != nil {
			return nil, err
		}
		if err := ownRevoked(creds); err != nil {
			return nil, err
		}
		if own := expiredOwn(creds, cfg.clock()); own != nil {
			if creds, n.admitted, err = renewExpired(ctx, cfg, log, h, memDir, creds, own, inv); err != nil {
				return nil, err
			}
		}
		n.joinVia = loadContacts(filepath.Join(memDir, contactsName))
	case inv != nil:
		var via peer.AddrInfo // the invite's bootstrap, or a coordinator
		if creds, via, err = joinAny(ctx, cfg, log, h, *inv, name); err != nil {
			return nil, err
		}
		if err := membership.SaveCredentials(memDir, creds); err != nil {
			return nil, fmt.Errorf("p2pshare: saving the member certificate: %w", err)
		}
		n.joinVia = []peer.AddrInfo{via}
		n.admitted = true
		saveContacts(filepath.Join(memDir, contactsName), via)
	case len(cfg.BootstrapPeers) > 0:
		return nil, errors.New("p2pshare: Config.BootstrapPeers is set but this node is no member yet: set Config.Invite (from the network's bootstrap) to join")
	default:
		return nil, fmt.Errorf("p2pshare: no network to start or join: Config.Invite is empty and Config.DataDir %q holds no membership; set Config.Invite to join a network, or Config.NewNetwork to start one", cfg.DataDir)
	}
	n.memDir, n.caDER = memDir, creds.CA
	if n.crl, err = newCRLValidator(creds.CA); err != nil {
		n.close()
		return nil, fmt.Errorf("p2pshare: the network's CA certificate: %w", err)
	}
	n.networkID = n.crl.networkID
	n.m, err = membership.New(membership.Config{
		CA: creds.CA, Cert: creds.Cert, Self: self, Dir: memDir, Log: log, Now: cfg.now,
		OnAdmit: func(p peer.ID) {
			if d := n.dht.Load(); d != nil {
				d.TryAdd(p)
			}
			if f := n.onAdmit.Load(); f != nil {
				(*f)(p)
			}
		},
		OnCRL: func(int64) {
			if f := n.onCRL.Load(); f != nil {
				(*f)()
			}
		},
	})
	if err != nil {
		n.close()
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	if len(creds.CRL) > 0 {
		_ = n.m.ApplyCRL(creds.CRL) // an older CRL than the saved one is no news
	}
	if len(creds.Bootstrap) > 0 && len(n.joinVia) > 0 {
		// Admitted just now: the bootstrap is a member over the connection
		// the admission opened, which this node goes on using.
		if err := n.m.Introduce(n.joinVia[0].ID, creds.Bootstrap); err != nil {
			log.Warn("the bootstrap's certificate", "err", err)
		}
	}
	return n, nil
}

// join runs admission on the node's host, before it is a member (its
// gater lets it dial out and nothing in).
func join(ctx context.Context, cfg *Config, log *slog.Logger, h host.Host, inv membership.Invite, name string) (membership.Credentials, error) {
	t := cfg.JoinTimeout
	if t == 0 {
		t = defaultJoinTimeout
	}
	jctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	creds, err := membership.Join(jctx, h, inv, membership.JoinRequest{Name: name, Now: cfg.now, Waiting: func(why string) {
		log.Info("the bootstrap holds the join for the teacher's approval", "bootstrap", why)
		if cfg.OnApprovalWait != nil {
			cfg.OnApprovalWait(why)
		}
	}})
	if err != nil {
		return membership.Credentials{}, public("joining the network", err)
	}
	return creds, nil
}

// pendingGater screens the node's connections with its Membership's gater
// once it has one. Before that — a newcomer being admitted — it lets the
// node dial out and refuses every connection from outside.
type pendingGater struct {
	inner atomic.Pointer[connmgr.ConnectionGater]
}

func (g *pendingGater) set(inner connmgr.ConnectionGater) { g.inner.Store(&inner) }

func (g *pendingGater) InterceptPeerDial(p peer.ID) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptPeerDial(p)
	}
	return true
}

func (g *pendingGater) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptAddrDial(p, a)
	}
	return true
}

func (g *pendingGater) InterceptAccept(a network.ConnMultiaddrs) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptAccept(a)
	}
	return false
}

func (g *pendingGater) InterceptSecured(d network.Direction, p peer.ID, a network.ConnMultiaddrs) bool {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptSecured(d, p, a)
	}
	return d == network.DirOutbound
}

func (g *pendingGater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if in := g.inner.Load(); in != nil {
		return (*in).InterceptUpgraded(c)
	}
	return true, 0
}

func approver(f func(context.Context, JoinRequest) (bool, string)) func(context.Context, membership.Request) (bool, string) {
	if f == nil {
		return nil
	}
	return func(ctx context.Context, r membership.Request) (bool, string) {
		return f(ctx, JoinRequest{Peer: r.Peer, Name: r.Name, Role: string(r.Role), Addr: r.Addr})
	}
}

// attach starts membership on the node's host: the credential exchange on
// every connection, and admission on the bootstrap.
func (n *memberNet) attach(h host.Host) error {
	n.m.Attach(h)
	if n.boot != nil {
		if err := n.boot.Attach(h, n.m); err != nil {
			return fmt.Errorf("p2pshare: %w", err)
		}
	}
	if n.appoint != nil {
		h.SetStreamHandler(protocolAppoint, n.m.GuardHandler(n.serveAppoint(h)))
		h.SetStreamHandler(protocolRenewCoord, n.m.GuardHandler(n.serveRenewCoord))
	}
	return nil
}

func (n *memberNet) close() {
	if n.m != nil {
		_ = n.m.Close()
	}
	if n.boot != nil {
		n.boot.Close()
	}
	if n.group != nil {
		_ = n.group.Close()
	}
	if n.tmp != "" {
		_ = os.RemoveAll(n.tmp)
	}
}

// startsAsBootstrap reports whether cfg makes the node its network's
// bootstrap: its DataDir holds the network's CA, or it asks for a new
// network and holds no member certificate. (Validate has made sure that
// NewNetwork comes with no invite and no bootstrap peers.)
func startsAsBootstrap(cfg *Config) bool {
	dir := cfg.DataDir
	if dir == "" {
		return cfg.NewNetwork
	}
	return exists(filepath.Join(dir, networkDirName, "ca.key")) || offlineRoot(dir) ||
		(cfg.NewNetwork && !exists(filepath.Join(dir, memberDirName, "member.crt")))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// saveContacts and loadContacts keep the bootstrap's addresses, so a member
// that restarts finds the network again without a new invite.
func saveContacts(path string, ai peer.AddrInfo) {
	addrs, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return
	}
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString(a.String() + "\n")
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o600)
}

func loadContacts(path string) []peer.AddrInfo {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var addrs []ma.Multiaddr
	for _, line := range strings.Fields(string(b)) {
		if a, err := ma.NewMultiaddr(line); err == nil {
			addrs = append(addrs, a)
		}
	}
	infos, _ := peer.AddrInfosFromP2pAddrs(addrs...)
	return infos
}

// Invite makes an invite for newcomers to this network: a p2pshare://
// string holding the bootstrap's addresses, the network CA's fingerprint and
// a join token. Only the bootstrap node can make one.
func (s *Swarm) Invite(o InviteOptions) (string, error) {
	if s.net.boot == nil {
		return "", errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node makes invites")
	}
	inv, err := s.net.boot.NewInvite(membership.InviteOptions{Uses: o.Uses, TTL: o.TTL, Name: o.Name, Coordinators: s.coordinatorContacts()})
	if err != nil {
		return "", public("", err)
	}
	return inv.String(), nil
}

// Revoke removes a member, named by its name or peer ID, from the network:
// every member drops it and refuses it from then on. The signed revocation
// list is pushed to members and stored in the DHT before Revoke returns.
// Only the bootstrap node can revoke.
func (s *Swarm) Revoke(who string) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node revokes members")
	}
	if err := s.net.boot.Revoke(who); err != nil {
		return fmt.Errorf("p2pshare: %w", err)
	}
	// Members hear of it by gossip at once; the DHT keeps it for those
	// offline now, and outlives this node.
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.storeCRL(ctx); err != nil {
		s.log.Warn("storing the CRL in the DHT", "err", err)
	}
	return nil
}

// IsBootstrap reports whether this node is its network's bootstrap node.
func (s *Swarm) IsBootstrap() bool { return s.net.boot != nil }

// IsMember reports whether p has shown this node a valid member certificate.
func (s *Swarm) IsMember(p PeerID) bool { return s.net.m.IsMember(p) }

// renewBefore is how long before its certificate expires a member asks the
// bootstrap for a new one (no invite needed: its current certificate
// proves it).
const renewBefore = 10 * 24 * time.Hour

// renewIfDue renews this member's certificate through the bootstrap when
// it is due (memberRenewDue), and keeps the new one in DataDir; a node
// that admits (the bootstrap, a coordinator) signs its own. A failure is
// logged, not fatal: the old certificate serves until it expires.
func (s *Swarm) renewIfDue(ctx context.Context) {
	own := s.net.m.Own()
	if own == nil || !memberRenewDue(own, s.cfg.clock()) {
		return
	}
	if s.net.boot != nil {
		// A node that admits signs its own, as it does when it starts: a
		// coordinator or bootstrap that runs for longer than a certificate
		// lives would otherwise be refused by its members when it ends.
		der, err := s.net.boot.SelfCert(s.h.ID(), own.Name, own.Role)
		if err == nil {
			err = s.net.m.SetCert(der)
		}
		if err != nil {
			s.log.Warn("renewing this coordinator's own member certificate", "ends", own.NotAfter, "err", err)
		}
		return
	}
	cur := membership.Credentials{CA: s.net.caDER, Cert: own.DER, CRL: s.net.m.CRL()}
	for _, ai := range s.bootPeers {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		next, err := membership.Renew(rctx, s.h, ai, cur, s.cfg.clock())
		cancel()
		if err != nil {
			s.log.Warn("renewing the member certificate", "bootstrap", ai.ID, "err", err)
			continue
		}
		if err := s.net.m.SetCert(next.Cert); err != nil {
			s.log.Warn("renewed member certificate refused", "err", err)
			continue
		}
		if err := membership.SaveCredentials(s.net.memDir, next); err != nil {
			s.log.Warn("saving the renewed member certificate", "err", err)
		}
		return
	}
}

// renewLoop checks twice a day (memberRenewCheck) whether the certificate
// is due for renewal, and whether the revocation list is current
// (keepCRLCurrent).
func (s *Swarm) renewLoop() {
	for {
		every := 12 * time.Hour
		if own := s.net.m.Own(); own != nil {
			every = memberRenewCheck(certLife(own))
		}
		t := time.NewTimer(every)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
			s.renewIfDue(s.ctx)
			s.keepCRLCurrent(s.ctx)
		}
	}
}
