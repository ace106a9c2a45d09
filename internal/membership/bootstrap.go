package membership

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// Request is a join or renewal as the approval callback sees it.
type Request struct {
	Peer    peer.ID
	Name    string
	Role    Role
	TokenID string // hex; "" for a renewal
	Renewal bool
	Addr    string // the source address it comes from (an IPv4 address, an IPv6 /64)
}

// BootstrapConfig configures the network's admission node. Zero values have
// the meaning each field's comment gives.
type BootstrapConfig struct {
	Dir string // holds ca.key, ca.crt, registry.json, member.crt, crl.der; required
	// AllowNames, if not nil, are the only names that shared invites may
	// admit (compared by nameKey), e.g. a class's roll numbers. The list is
	// kept in the registry: it replaces the one kept there, and nil keeps
	// that one (Registry.SetAllowNames(nil) lifts it). Per-student invites
	// (InviteOptions.Name) admit their name whether listed or not.
	AllowNames []string
	// MaxPerAddress caps the members one source address (an IPv4 address,
	// an IPv6 /64) may have admitted with shared invites; 0 means no cap.
	// A class behind one NAT, or a demo on 127.0.0.1, is one address.
	MaxPerAddress int
	// Approve, if set, is asked about every join that passed every other
	// check (a teacher says yes or no); the string is the refusal reason.
	// The newcomer is told it waits for approval. ctx ends when
	// ApproveTimeout passes, the newcomer hangs up, or the bootstrap
	// closes; the join is then refused.
	Approve func(ctx context.Context, r Request) (bool, string)
	// ApproveWhen, if set, says whether a join needs Approve now (a
	// coordinator group's log says so); nil means whenever Approve is set.
	ApproveWhen func() bool
	// ApproveTimeout bounds Approve; 0 means 2 minutes.
	ApproveTimeout time.Duration
	CertTTL        time.Duration // 0 means DefaultCertTTL
	// PeerRate and PeerBurst limit admission attempts per peer ID; 0 means
	// one every 2 s, burst 5. TotalRate (0: 500/s) bounds all of them
	// together, since peer IDs cost nothing to make: attempts beyond it
	// wait in line (up to QueueWait, 0: 8 s) and are served in turn, and
	// only those who find the line full are asked to come back later
	// (which Join does by itself). A class that joins at once is queued,
	// never refused.
	PeerRate  rate.Limit
	PeerBurst int
	TotalRate rate.Limit
	QueueWait time.Duration
	// FailRate and FailBurst limit failed admission attempts (refused, or
	// malformed) per source address (an IPv4 address, an IPv6 /64); 0
	// means burst 20, then one a second. An address past them is refused
	// at once, before the line, so that a flood of bad attempts from one
	// place neither holds connections nor delays the newcomers of others.
	FailRate  rate.Limit
	FailBurst int
	Log       *slog.Logger
	Now       func() time.Time // nil means time.Now
	// CA, if set, is the CA that admits instead of the root kept in Dir: a
	// coordinator's (NewCoordinatorCA).
	CA *CA
	// Ledger, if set, is where registry changes are committed instead of
	// the registry file in Dir: a coordinator group (bootstrap_ledger.go).
	Ledger Ledger
}

// Bootstrap is the network's admission node: its CA, its registry, its
// policy, and the /p2pshare/admit/1.0.0 handler. It is safe for concurrent
// use.
type Bootstrap struct {
	cfg BootstrapConfig
	ca  atomic.Pointer[CA] // the root, or a coordinator's CA (SetCA swaps it)
	reg *Registry
	w   registryWriter // reg, or cfg.Ledger
	log *slog.Logger

	crlMu sync.Mutex // orders revocations and lifts, and the CRLs they sign

	mu       sync.Mutex
	h        host.Host
	m        *Membership
	crl      []byte
	limiters map[peer.ID]*rate.Limiter
	queue    *admitQueue
	failures *failures  // failed attempts per source address
	stats    admitStats // decisions, for metrics (metrics.go)
	done     chan struct{}
	closed   bool
}

const maxLimiters = 4096

// OpenBootstrap loads the CA and registry in cfg.Dir, creating a new
// network there on first start.
func OpenBootstrap(cfg BootstrapConfig) (*Bootstrap, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ApproveTimeout <= 0 {
		cfg.ApproveTimeout = 2 * time.Minute
	}
	if cfg.CertTTL <= 0 {
		cfg.CertTTL = DefaultCertTTL
	}
	if cfg.PeerRate <= 0 {
		cfg.PeerRate, cfg.PeerBurst = rate.Every(2*time.Second), 5
	}
	if cfg.PeerBurst <= 0 {
		cfg.PeerBurst = 1
	}
	if cfg.TotalRate <= 0 {
		cfg.TotalRate = 500
	}
	if cfg.FailRate <= 0 {
		cfg.FailRate, cfg.FailBurst = 1, 20
	}
	if cfg.FailBurst <= 0 {
		cfg.FailBurst = 1
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = 8 * time.Second
	}
	ca, reg, w, err := openCAAndRegistry(cfg)
	if err != nil {
		return nil, err
	}
	// A burst of a quarter second's admissions starts at once; the rest
	// of a class that arrives together waits its turn.
	burst := max(int(cfg.TotalRate)/4, 1)
	b := &Bootstrap{cfg: cfg, reg: reg, w: w, log: cfg.Log, limiters: map[peer.ID]*rate.Limiter{},
		queue: newAdmitQueue(cfg.TotalRate, burst, cfg.QueueWait), done: make(chan struct{}),
		failures: newFailures(cfg.FailRate, cfg.FailBurst)}
	b.ca.Store(ca)
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if cfg.AllowNames != nil {
		if err := reg.SetAllowNames(cfg.AllowNames); err != nil {
			return nil, fmt.Errorf("membership: BootstrapConfig.AllowNames: %w", err)
		}
	}
	if cfg.MaxPerAddress < 0 {
		return nil, fmt.Errorf("membership: BootstrapConfig.MaxPerAddress %d is negative", cfg.MaxPerAddress)
	}
	if cfg.Ledger == nil {
		// A Ledger's registry takes its cap from the group's log.
		reg.setMaxPerAddr(cfg.MaxPerAddress)
	}
	for _, c := range reg.NameConflicts() {
		b.log.Warn("registry: two members share a name", "conflict", c)
	}
	if n := reg.CRLNumber(); n > 0 {
		if b.crl, err = ca.CreateCRL(n, reg.Revoked(), cfg.Now()); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// CA is the network's certificate authority.
func (b *Bootstrap) CA() *CA { return b.ca.Load() }

// Registry is the bootstrap's durable member and token registry.
func (b *Bootstrap) Registry() *Registry { return b.reg }

// CRL is the newest CRL the bootstrap signed, or nil if nobody was revoked.
func (b *Bootstrap) CRL() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.crl
}

// SelfCert returns the bootstrap node's own member certificate for peer
// self: the one kept in Dir while more than half its lifetime is left, else
// a new one, recorded in the registry under name and saved.
func (b *Bootstrap) SelfCert(self peer.ID, name string, role Role) ([]byte, error) {
	now := b.cfg.Now()
	path := filepath.Join(b.cfg.Dir, memberCertFile)
	if der, err := readPEM(path, "CERTIFICATE"); err == nil {
		v, _ := NewVerifier(b.CA().CertDER(), nil)
		if mc, err := v.Verify(der, self, now); err == nil && mc.Name == name && mc.Role == role &&
			mc.NotAfter.Sub(now) > b.cfg.CertTTL/2 {
			return der, nil
		}
	}
	mc, err := b.issue(IssueRequest{Peer: self, Name: name, Role: role, Now: now, TTL: b.cfg.CertTTL})
	if err != nil {
		return nil, err
	}
	if err := b.w.enroll(self, name, role, mc.Serial, now.Add(b.cfg.CertTTL), now); err != nil {
		return nil, err
	}
	if err := writePEM(path, "CERTIFICATE", mc.DER); err != nil {
		return nil, err
	}
	return mc.DER, nil
}

// Attach serves the admission protocol on h, the bootstrap node's host, and
// links the bootstrap to that node's Membership m (which must use this CA):
// admitted newcomers become members there at once, and revocations are
// applied and spread through it.
func (b *Bootstrap) Attach(h host.Host, m *Membership) error {
	if m.verify.NetworkID() != b.CA().NetworkID() {
		return fmt.Errorf("membership: Membership is for network %.16s…, bootstrap for %.16s…: %w", m.verify.NetworkID(), b.CA().NetworkID(), ErrWrongCA)
	}
	b.mu.Lock()
	b.h, b.m = h, m
	crl := b.crl
	b.mu.Unlock()
	m.mu.Lock()
	m.admits = true
	m.mayConnect = func(addr string) bool { _, ok := b.mayTry(addr); return ok }
	m.mu.Unlock()
	bars := map[peer.ID]string{} // peers revoked and not lifted
	for _, rv := range b.reg.Revoked() {
		if rv.Lifted.IsZero() {
			bars[rv.Peer] = ""
		}
	}
	if crl != nil {
		if err := m.ApplyCRL(crl); err != nil && !errors.Is(err, ErrStaleCRL) {
			return err
		}
	}
	m.revokePeers(bars, "the bootstrap's registry")
	h.SetStreamHandler(ProtocolAdmit, b.Admit)
	return nil
}

// Close stops serving the admission protocol; newcomers waiting in line
// are cut off.
func (b *Bootstrap) Close() {
	b.mu.Lock()
	h := b.h
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	b.mu.Unlock()
	if h != nil {
		h.RemoveStreamHandler(ProtocolAdmit)
	}
}

// InviteOptions shape a new invite.
type InviteOptions struct {
	Uses  int            // how many members may join with it; 0 means 1
	TTL   time.Duration  // how long it stays valid; 0 means 24 hours
	Role  Role           // the role it admits; "" means student
	Addrs []ma.Multiaddr // bootstrap addresses to put in it; nil means the host's (up to 16)
	// Name, if set, binds the invite to one student: it admits that name
	// only, once (Uses must be 0 or 1), and while it may still admit, no
	// shared invite takes the name.
	Name string
	// Coordinators are the other nodes that admit with it (a coordinator
	// group's), which a newcomer tries when the bootstrap is down; up to 8,
	// with up to 4 addresses each, are kept.
	Coordinators []peer.AddrInfo
}

// NewInvite records a new join token durably and returns its invite. The
// bootstrap must be attached to its host.
func (b *Bootstrap) NewInvite(o InviteOptions) (Invite, error) {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h == nil {
		return Invite{}, errors.New("membership: NewInvite before Attach: the bootstrap has no addresses yet")
	}
	if o.Uses <= 0 {
		o.Uses = 1
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.Role == "" {
		o.Role = RoleStudent
	}
	if err := validRole(o.Role); err != nil {
		return Invite{}, err
	}
	if o.Name != "" {
		if o.Uses != 1 {
			return Invite{}, fmt.Errorf("membership: an invite bound to name %q admits one member, not %d", o.Name, o.Uses)
		}
		if err := checkNewName(o.Name); err != nil {
			return Invite{}, err
		}
		if err := b.reg.nameInUse(o.Name); err != nil {
			return Invite{}, err
		}
	}
	if o.Addrs == nil {
		o.Addrs = h.Addrs()
	}
	if len(o.Addrs) > maxInviteAddrs {
		o.Addrs = o.Addrs[:maxInviteAddrs]
	}
	if len(o.Addrs) == 0 {
		return Invite{}, errors.New("membership: the bootstrap host listens on no address to invite to")
	}
	id, secret, err := newTokenSecret()
	if err != nil {
		return Invite{}, err
	}
	now := b.cfg.Now()
	exp := now.Add(o.TTL).Truncate(time.Second)
	t := TokenRecord{ID: hex.EncodeToString(id[:]), Secret: secret[:], Role: o.Role, Uses: o.Uses, UsesLeft: o.Uses, Expires: exp, Created: now, Name: o.Name}
	if err := b.w.AddToken(t); err != nil {
		return Invite{}, err
	}
	return Invite{Bootstrap: peer.AddrInfo{ID: h.ID(), Addrs: o.Addrs}, CAFingerprint: b.CA().Fingerprint(), Coordinators: inviteCoords(o.Coordinators, h.ID()),
		TokenID: id, Secret: secret, Expires: exp}, nil
}
