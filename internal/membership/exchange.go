package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/time/rate"

	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// ProtocolMember is the credential exchange every connection runs first.
// The side that dialled opens it and sends its member certificate; the
// other side answers with its own only once the dialler's has been
// verified, so a peer that connects to a member learns nothing of it
// before proving itself a member (a member that dials someone reveals its
// certificate to whoever it chose to dial).
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
	// OutsiderDeadline is how long a connected peer has to start proving
	// membership (send its certificate, or ask the bootstrap for
	// admission); one that has not is disconnected, unblocked. 0 means
	// DefaultOutsiderDeadline.
	OutsiderDeadline time.Duration
	// OutsidersPerIP is how many connections peers not yet proven members
	// may hold from one IP address; 0 means DefaultOutsidersPerIP.
	OutsidersPerIP int
	// OutsiderStreams is how many streams a peer not yet proven a member
	// may have waiting for its certificate; 0 means
	// DefaultOutsiderStreams.
	OutsiderStreams int
	// StreamRate and StreamBurst bound the streams one peer may open to
	// the handlers Allow screens; 0 means DefaultStreamRate and
	// DefaultStreamBurst.
	StreamRate  rate.Limit
	StreamBurst int
	OnAdmit     func(peer.ID)        // a peer presented a valid certificate (each connection)
	OnDrop      func(peer.ID, error) // a peer was disconnected (and blocked, unless a possible newcomer on the bootstrap), and why
	OnCRL       func(number int64)   // a newer CRL was applied and saved
	Log         *slog.Logger
	Now         func() time.Time // nil means time.Now
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
	// mayConnect, on the bootstrap, says whether a connection from a
	// source address (sourceOf) is accepted at all (Bootstrap.Attach).
	mayConnect func(addr string) bool
	own        *MemberCert
	roster     roster
	block      blocklist
	crl        crlState
	budget     budget
	room       chan struct{} // closed (and replaced) when the budget gives back a place

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
	if cfg.OutsiderDeadline <= 0 {
		cfg.OutsiderDeadline = DefaultOutsiderDeadline
	}
	cfg.OutsiderDeadline = min(cfg.OutsiderDeadline, cfg.Deadline)
	if cfg.OutsidersPerIP <= 0 {
		cfg.OutsidersPerIP = DefaultOutsidersPerIP
	}
	if cfg.OutsiderStreams <= 0 {
		cfg.OutsiderStreams = DefaultOutsiderStreams
	}
	if cfg.StreamRate <= 0 {
		cfg.StreamRate = DefaultStreamRate
	}
	if cfg.StreamBurst <= 0 {
		cfg.StreamBurst = DefaultStreamBurst
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
	m.budget = newBudget(cfg.OutsidersPerIP, cfg.OutsiderStreams, cfg.StreamRate, cfg.StreamBurst)
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
	n := &network.NotifyBundle{
		ConnectedF:    func(_ network.Network, c network.Conn) { m.connected(c) },
		DisconnectedF: func(_ network.Network, c network.Conn) { m.disconnected(c) },
	}
	m.mu.Lock()
	m.h, m.notify = h, n
	m.mu.Unlock()
	h.SetStreamHandler(ProtocolMember, m.handleCredential)
	h.SetStreamHandler(ProtocolCRL, m.handleCRL)
	h.Network().Notify(n)
	for _, c := range h.Network().Conns() {
		// A peer counted a member already is the bootstrap that admitted
		// this node over this connection (Introduce), and counts this node
		// a member too: nothing is left to prove on it.
		if !m.IsMember(c.RemotePeer()) {
			m.connected(c)
		}
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
	now := m.cfg.Now()
	refused := m.block.refused(p, now)
	over := false
	if !refused && !m.isMemberLocked(p, now) {
		// On the bootstrap, a newcomer over its address's budget is told
		// to come back later if it asks for admission (Admit); it may be
		// one of a class joining at once from behind one NAT address.
		over = !m.budget.connect(p, c.ID(), remoteIP(c)) && !m.admits
	}
	m.mu.Unlock()
	if refused { // no gater installed, or a race with one: close at once
		m.spawn(func() { _ = c.Close() })
		return
	}
	if over {
		m.log.Info("connection refused: its address holds as many connections of peers not yet members as it may",
			"peer", p, "addr", c.RemoteMultiaddr(), "limit", m.cfg.OutsidersPerIP)
		m.spawn(func() { _ = c.Close() })
		return
	}
	// The dialler proves itself first; on a connection it accepted, this
	// node answers the dialler's certificate (handleCredential). Two
	// members dialling each other at once each send on their own
	// connection and each answers the other's, so neither waits on the
	// other.
	outbound := c.Stat().Direction != network.DirInbound
	if outbound {
		m.spawn(func() { m.sendCredential(p) })
	}
	m.spawn(func() { m.enforce(p, outbound) })
}

// overBudget reports whether p came in over its address's budget of
// outsiders (on the bootstrap, where it is let in to be told so) and its
// address has no room for it yet.
func (m *Membership) overBudget(p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.budget.overNow(p)
}

// disconnected forgets connection c in the outsiders' budget and wakes
// whoever waits on its peer.
func (m *Membership) disconnected(c network.Conn) {
	p := c.RemotePeer()
	m.mu.Lock()
	m.budget.disconnect(p, c.ID())
	m.roomLocked()
	m.signalLocked(p)
	m.mu.Unlock()
}

// roomLocked wakes whoever waits for a place in the outsiders' budget
// (awaitRoom): one may have been given back.
func (m *Membership) roomLocked() {
	if m.room != nil {
		close(m.room)
		m.room = nil
	}
}

// awaitRoom waits, for at most d, until p, which came over its address's
// budget of outsiders, finds room at its address (overBudget); false
// means it found none in time, or ctx ended.
func (m *Membership) awaitRoom(ctx context.Context, p peer.ID, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		m.mu.Lock()
		if !m.budget.overNow(p) {
			m.mu.Unlock()
			return true
		}
		if m.room == nil {
			m.room = make(chan struct{})
		}
		ch := m.room
		m.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// sendCredential proves this node a member to p and takes p's answer:
// it sends this node's certificate and CRL number, and reads p's own,
// which p sends only once it has verified this node's. A stream that
// fails gives no verdict on p: enforce holds its deadline.
func (m *Membership) sendCredential(p peer.ID) {
	m.mu.Lock()
	msg := m.credentialLocked()
	h := m.h
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, streamTimeout)
	defer cancel()
	// Not h.NewStream, which waits for identify first: the peer's
	// OutsiderDeadline runs from the connection's start, and a round trip
	// through a full upload queue can take most of it.
	s, err := ihost.OpenStream(ctx, h, p, ProtocolMember)
	if err != nil {
		m.log.Debug("cannot send credential", "peer", p, "err", err)
		return
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	if err := writeFrame(s, msg.encode()); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.CloseWrite()
	b, err := readFrame(s, maxCredentialMsg, "credential reply")
	if err != nil && !errors.Is(err, ErrMessageTooLarge) {
		// Refused (p reset the stream), or the connection failed.
		m.log.Debug("no credential in reply", "peer", p, "err", err)
		_ = s.Reset()
		return
	}
	if !m.judge(p, b, err) {
		_ = s.Reset()
	}
}

// credentialLocked is this node's credential message; the caller holds
// m.mu.
func (m *Membership) credentialLocked() credentialMsg {
	return credentialMsg{Cert: m.own.DER, CRLNumber: uint64(m.crl.number)}
}

// handleCredential receives a dialler's certificate: admit it and answer
// with this node's own, or drop and block it, answering nothing.
func (m *Membership) handleCredential(s network.Stream) {
	p := s.Conn().RemotePeer()
	defer s.Close()
	m.mu.Lock()
	m.budget.start(p)
	m.mu.Unlock()
	_ = s.SetDeadline(time.Now().Add(m.cfg.Deadline))
	b, err := readFrame(s, maxCredentialMsg, "credential")
	if err != nil && !errors.Is(err, ErrMessageTooLarge) {
		// The stream or connection failed (a duplicate connection closed,
		// say): no verdict on the peer; enforce still holds its deadline.
		_ = s.Reset()
		return
	}
	if !m.judge(p, b, err) {
		_ = s.Reset()
		return
	}
	m.mu.Lock()
	msg := m.credentialLocked()
	m.mu.Unlock()
	if err := writeFrame(s, msg.encode()); err != nil {
		_ = s.Reset()
	}
}

// judge decides on the credential message b that p sent (readErr, if the
// frame was too large): p is admitted, and sent this node's CRL if p's is
// older; or p is dropped and blocked (for good, if its certificate is
// revoked). It reports whether p was admitted.
func (m *Membership) judge(p peer.ID, b []byte, readErr error) bool {
	err := readErr
	var msg credentialMsg
	if err == nil {
		msg, err = decodeCredential(b)
	}
	var mc *MemberCert
	if err == nil {
		mc, err = m.verify.Verify(msg.Cert, p, m.cfg.Now())
	}
	if err != nil {
		if errors.Is(err, ErrRevoked) {
			m.barRevoked(p, msg.Cert)
		}
		m.drop(p, fmt.Errorf("membership: credential from %s: %w", p, err), true)
		return false
	}
	m.admit(p, mc)
	m.mu.Lock()
	ours, crl := m.crl.number, m.crl.der
	m.mu.Unlock()
	if uint64(ours) > msg.CRLNumber {
		m.spawn(func() { m.pushCRL(p, crl) })
	}
	return true
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
// holds the deadline until it ends. A peer that has not even started to
// prove itself (sent a certificate, asked for admission) within
// OutsiderDeadline is dropped then, never blocked: a member's certificate
// can be that late behind a full upload queue (a laptop uploading at
// 1 MiB/s queues more than a second of data ahead of it) or on a busy
// machine, and a member blocked for that would be shut out of its class
// for BlockFor while every dial it made cost both ends a handshake.
//
// On a connection this node dialled (outbound) the outsiders' deadline
// does not apply, only Deadline: the budget bounds what strangers who
// connect to this node may hold, and the dialler's clock starts a round
// trip earlier than the peer's (the peer completes the handshake on the
// dialler's last message, then sends its certificate back), which through
// two full upload queues took most of the 2 s in S2 under tc: 26 of 34
// cuts in one run were of connections the cutting member had dialled.
func (m *Membership) enforce(p peer.ID, outbound bool) {
	rest := m.cfg.Deadline
	if !outbound {
		if m.waitMemberFor(p, m.cfg.OutsiderDeadline) || m.ctx.Err() != nil {
			return
		}
		if !m.begun(p) {
			m.cutOutsider(p, fmt.Errorf("membership: peer %s did not start to prove membership within %v: %w", p, m.cfg.OutsiderDeadline, ErrNoCredential), false)
			return
		}
		rest -= m.cfg.OutsiderDeadline
	}
	if m.waitMemberFor(p, rest) || m.ctx.Err() != nil || !m.waitAdmissions(p) {
		return
	}
	m.mu.Lock()
	newcomer := m.admits
	member := m.isMemberLocked(p, m.cfg.Now())
	refused := m.block.refused(p, m.cfg.Now())
	m.mu.Unlock()
	if member || refused {
		return
	}
	m.cutOutsider(p, fmt.Errorf("membership: peer %s sent no valid member certificate within %v: %w", p, m.cfg.Deadline, ErrNoCredential), !newcomer)
}

// begun reports whether p has started to prove membership: sent its
// certificate, asked for admission, or opened a stream for either that
// this node has not read yet.
func (m *Membership) begun(p peer.ID) bool {
	m.mu.Lock()
	begun := m.budget.startedOn(p) || m.roster.admitting[p] > 0
	h := m.h
	m.mu.Unlock()
	return begun || (h != nil && openedStream(h, p))
}

// openedStream reports whether p has a stream open to this node that is,
// or may yet be, its certificate or admission request: one for either
// protocol, or one whose protocol this node has not read yet (a loaded
// machine takes a while from a stream's arrival to its handler).
func openedStream(h host.Host, p peer.ID) bool {
	for _, c := range h.Network().ConnsToPeer(p) {
		for _, s := range c.GetStreams() {
			switch s.Protocol() {
			case "", ProtocolMember, ProtocolAdmit:
				if s.Stat().Direction == network.DirInbound {
					return true
				}
			}
		}
	}
	return false
}

// waitMemberFor is WaitMember for at most d.
func (m *Membership) waitMemberFor(p peer.ID, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(m.ctx, d)
	defer cancel()
	return m.WaitMember(ctx, p)
}

// cutOutsider drops p, not a member, if it is still connected (and blocks
// it if block); a peer gone by itself is only forgotten.
func (m *Membership) cutOutsider(p peer.ID, why error, block bool) {
	m.mu.Lock()
	member := m.isMemberLocked(p, m.cfg.Now())
	h := m.h
	m.mu.Unlock()
	if member {
		return
	}
	if h.Network().Connectedness(p) != network.Connected {
		m.signal(p) // gone by itself; forget its waiter
		return
	}
	m.drop(p, why, block)
}

// remoteIP is the source address c comes from, as the outsiders' and the
// failed admissions' budgets count it: an IPv4 address, an IPv6 /64 (what
// one host is given), or the whole remote address if it has no IP.
func remoteIP(c network.Conn) string { return sourceOf(c.RemoteMultiaddr()) }

func sourceOf(a ma.Multiaddr) string {
	ip, err := manet.ToIP(a)
	if err != nil {
		return a.String()
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}
