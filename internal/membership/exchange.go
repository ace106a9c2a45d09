package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolMember is the credential exchange every connection runs first:
// each side sends the other its member certificate.
const ProtocolMember protocol.ID = "/p2pshare/member/1.0.0"

// Defaults of Config.
const (
	// DefaultDeadline leaves room for a busy laptop: a member whose
	// exchange misses it is dropped and blocked for BlockFor, so it must
	// not be missed under load (50 members starting at once on two cores
	// did miss 2 s).
	DefaultDeadline = 10 * time.Second
	DefaultBlockFor = time.Minute
	streamTimeout   = 10 * time.Second
)

// Config configures a Membership. Zero values have the meaning each field's
// comment gives.
type Config struct {
	CA   []byte  // the network's root certificate (DER); required
	Cert []byte  // this node's member certificate (DER); required
	Self peer.ID // this node's peer ID (peer.IDFromPrivateKey); Cert must bind it
	// Dir keeps the newest CRL (crl.der); "" keeps it in memory only.
	Dir string
	// Deadline is how long a newly connected peer has to present a valid
	// certificate; 0 means DefaultDeadline.
	Deadline time.Duration
	// BlockFor is how long a peer that failed the exchange is refused; 0
	// means DefaultBlockFor. Revoked peers are refused for good.
	BlockFor time.Duration
	OnAdmit  func(peer.ID)        // a peer presented a valid certificate (each connection)
	OnDrop   func(peer.ID, error) // a peer was disconnected (and blocked, unless a possible newcomer on the bootstrap), and why
	OnCRL    func(number int64)   // a newer CRL was applied and saved
	Log      *slog.Logger
	Now      func() time.Time // nil means time.Now
}

// Membership decides, on one node, which peers are members: it runs the
// credential exchange on every connection, holds the peers admitted, the
// block list and the newest CRL, and provides the connection gater. It is
// safe for concurrent use.
type Membership struct {
	cfg    Config
	verify *Verifier
	log    *slog.Logger
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards everything below
	h      host.Host  // set by Attach
	notify network.Notifiee
	admits bool // this node serves admission: a peer without a certificate may be a newcomer
	own    *MemberCert
	roster roster
	block  blocklist
	crl    crlState

	persistMu sync.Mutex // orders CRL writes to Dir
}

// roster is the peers seen and admitted; guarded by Membership.mu.
type roster struct {
	members   map[peer.ID]*MemberCert
	serials   map[string]peer.ID        // serial (hex) → peer, every certificate verified
	waiters   map[peer.ID]chan struct{} // closed when the peer's state changes
	admitting map[peer.ID]int           // admission streams in progress (bootstrap)
}

// New makes a node's Membership. It exists before the node's host, because
// the host takes Gater() at construction; Attach then connects the two. An
// expired own certificate is accepted (so the node can start and renew); one
// that does not chain to CA or bind Self is an error.
func New(cfg Config) (*Membership, error) {
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.BlockFor <= 0 {
		cfg.BlockFor = DefaultBlockFor
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Self == "" {
		return nil, errors.New("membership: Config.Self is empty")
	}
	m := &Membership{cfg: cfg, log: cfg.Log}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.roster = roster{members: map[peer.ID]*MemberCert{}, serials: map[string]peer.ID{},
		waiters: map[peer.ID]chan struct{}{}, admitting: map[peer.ID]int{}}
	m.block = blocklist{until: map[peer.ID]time.Time{}, revoked: map[peer.ID]string{}}
	m.crl = crlState{serials: map[string]bool{}}
	v, err := NewVerifier(cfg.CA, m.isRevoked)
	if err != nil {
		return nil, fmt.Errorf("membership: Config.CA: %w", err)
	}
	m.verify = v
	if err := m.loadCRL(); err != nil {
		return nil, err
	}
	own, err := m.checkOwn(cfg.Cert)
	if err != nil {
		return nil, fmt.Errorf("membership: Config.Cert: %w", err)
	}
	m.own = own
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// checkOwn verifies this node's own certificate, tolerating expiry: an
// expired one must still have been valid, for this peer and this CA.
func (m *Membership) checkOwn(der []byte) (*MemberCert, error) {
	mc, err := m.verify.Verify(der, m.cfg.Self, m.cfg.Now())
	if !errors.Is(err, ErrExpired) {
		return mc, err
	}
	pc, perr := ParseMemberCert(der)
	if perr != nil {
		return nil, perr
	}
	if pc.NetworkID != m.verify.netID || pc.Peer != m.cfg.Self || pc.x509.CheckSignatureFrom(m.verify.ca) != nil {
		return nil, fmt.Errorf("membership: expired certificate of %q is not this node's (peer %s) in network %.16s…: %w",
			pc.Name, pc.Peer, pc.NetworkID, ErrWrongCA)
	}
	m.log.Warn("own member certificate is expired or not yet valid; renew it", "err", err)
	return pc, nil
}

// Attach connects the Membership to the node's host: it serves the
// credential exchange and the CRL protocol, and runs the exchange on every
// connection, present and future. Call it once, right after the host is
// built.
func (m *Membership) Attach(h host.Host) {
	n := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) { m.connected(c) }}
	m.mu.Lock()
	m.h, m.notify = h, n
	m.mu.Unlock()
	h.SetStreamHandler(ProtocolMember, m.handleCredential)
	h.SetStreamHandler(ProtocolCRL, m.handleCRL)
	h.Network().Notify(n)
	for _, c := range h.Network().Conns() {
		m.connected(c)
	}
}

// Close stops the exchange and waits for its goroutines. The host stays up.
func (m *Membership) Close() error {
	m.cancel()
	m.mu.Lock()
	h, n := m.h, m.notify
	m.mu.Unlock()
	if h != nil {
		h.Network().StopNotify(n)
		h.RemoveStreamHandler(ProtocolMember)
		h.RemoveStreamHandler(ProtocolCRL)
	}
	m.wg.Wait()
	return nil
}

// spawn runs f on a goroutine that Close waits for, unless closed.
func (m *Membership) spawn(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// connected starts the exchange on a new connection: send our certificate,
// and give the peer Deadline to send its own.
func (m *Membership) connected(c network.Conn) {
	p := c.RemotePeer()
	if p == m.cfg.Self {
		return
	}
	m.mu.Lock()
	refused := m.block.refused(p, m.cfg.Now())
	m.mu.Unlock()
	if refused { // no gater installed, or a race with one: close at once
		m.spawn(func() { _ = c.Close() })
		return
	}
	m.spawn(func() { m.sendCredential(p) })
	m.spawn(func() { m.enforce(p) })
}

// sendCredential sends this node's certificate and CRL number to p.
func (m *Membership) sendCredential(p peer.ID) {
	m.mu.Lock()
	msg := credentialMsg{Cert: m.own.DER, CRLNumber: uint64(m.crl.number)}
	h := m.h
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, streamTimeout)
	defer cancel()
	s, err := h.NewStream(network.WithNoDial(ctx, "membership"), p, ProtocolMember)
	if err != nil {
		m.log.Debug("cannot send credential", "peer", p, "err", err)
		return
	}
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	if err := writeFrame(s, msg.encode()); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// handleCredential receives a peer's certificate: admit it, or drop and
// block it.
func (m *Membership) handleCredential(s network.Stream) {
	p := s.Conn().RemotePeer()
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(m.cfg.Deadline))
	b, err := readFrame(s, maxCredentialMsg, "credential")
	if err != nil && !errors.Is(err, ErrMessageTooLarge) {
		// The stream or connection failed (a duplicate connection closed,
		// say): no verdict on the peer; enforce still holds its deadline.
		_ = s.Reset()
		return
	}
	var msg credentialMsg
	if err == nil {
		msg, err = decodeCredential(b)
	}
	var mc *MemberCert
	if err == nil {
		mc, err = m.verify.Verify(msg.Cert, p, m.cfg.Now())
	}
	if err != nil {
		_ = s.Reset()
		if errors.Is(err, ErrRevoked) {
			m.barRevoked(p, msg.Cert)
		}
		m.drop(p, fmt.Errorf("membership: credential from %s: %w", p, err), true)
		return
	}
	m.admit(p, mc)
	m.mu.Lock()
	ours, crl := m.crl.number, m.crl.der
	m.mu.Unlock()
	if uint64(ours) > msg.CRLNumber {
		m.spawn(func() { m.pushCRL(p, crl) })
	}
}

// barRevoked refuses p for good (not for BlockFor) after it presented
// der, a certificate the CRL revokes, unless that revocation was lifted.
func (m *Membership) barRevoked(p peer.ID, der []byte) {
	c, err := ParseMemberCert(der)
	if err != nil {
		return
	}
	s := serialHex(c.Serial)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.block.revoked[p]; !ok && m.crl.barred[s] {
		m.block.revoked[p] = s
	}
}

// enforce drops p unless it is a member within Deadline, and blocks it for
// BlockFor too, except on the bootstrap, where a peer with no certificate
// may be a newcomer (a slow one retries). There, an admission in progress
// holds the deadline until it ends.
func (m *Membership) enforce(p peer.ID) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Deadline)
	defer cancel()
	if m.WaitMember(ctx, p) || m.ctx.Err() != nil || !m.waitAdmissions(p) {
		return
	}
	m.mu.Lock()
	member := m.isMemberLocked(p, m.cfg.Now())
	refused := m.block.refused(p, m.cfg.Now())
	newcomer, h := m.admits, m.h
	m.mu.Unlock()
	if member || refused {
		return
	}
	if h.Network().Connectedness(p) != network.Connected {
		m.signal(p) // gone by itself; forget its waiter
		return
	}
	m.drop(p, fmt.Errorf("membership: peer %s sent no valid member certificate within %v: %w", p, m.cfg.Deadline, ErrNoCredential), !newcomer)
}
