package membership

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolCRL carries a CRL to a member; a member that learns a newer one
// forwards it to its connected members, so it spreads by gossip.
const ProtocolCRL protocol.ID = "/p2pshare/crl/1.0.0"

const crlFile = "crl.der"

// crlState is the newest CRL a node holds; guarded by Membership.mu.
type crlState struct {
	der    []byte
	number int64
	// issued and next are the list's ThisUpdate and NextUpdate: it is
	// stale after next, and a list of the same number issued later is a
	// refresh of it.
	issued, next time.Time
	serials      map[string]bool // hex: every certificate revoked
	// barred are the serials whose holders are refused too, by peer ID:
	// all but those of revocations the teacher lifted (reasonSuperseded).
	barred map[string]bool
}

// reasonSuperseded is the CRL reason code (RFC 5280, 5.3.1) of the
// certificates of a lifted revocation: they stay revoked, but their
// holder is no longer refused and may be admitted again.
const reasonSuperseded = 4

// crlSerials reads a CRL's revoked serials and, of those, the ones that
// bar their holder.
func crlSerials(l *x509.RevocationList) (serials, barred map[string]bool) {
	serials = make(map[string]bool, len(l.RevokedCertificateEntries))
	barred = make(map[string]bool, len(l.RevokedCertificateEntries))
	for _, e := range l.RevokedCertificateEntries {
		s := serialHex(e.SerialNumber)
		serials[s] = true
		if e.ReasonCode != reasonSuperseded {
			barred[s] = true
		}
	}
	return serials, barred
}

// CRLValidity is how long a revocation list is current: its NextUpdate is
// that far after it is signed, and the bootstrap signs it again (the same
// number, refreshed) well before then. A member whose newest list is past
// its NextUpdate knows it may be missing revocations, and says so.
const CRLValidity = 14 * 24 * time.Hour

// CreateCRL signs a revocation list numbered number listing every serial
// of revoked; those of lifted revocations as superseded, current for
// CRLValidity. Numbers only grow; members keep the highest (and, of one
// number, the one signed last).
func (c *CA) CreateCRL(number int64, revoked []RevokedRecord, now time.Time) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, rv := range revoked {
		for _, s := range rv.Serials {
			n, ok := new(big.Int).SetString(s, 16)
			if !ok {
				return nil, fmt.Errorf("membership: revoked serial %q of %q is not hex", s, rv.Name)
			}
			e := x509.RevocationListEntry{SerialNumber: n, RevocationTime: rv.At}
			if !rv.Lifted.IsZero() {
				e.ReasonCode = reasonSuperseded
			}
			entries = append(entries, e)
		}
	}
	tmpl, issuer := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now,
		NextUpdate:                now.Add(CRLValidity),
		RevokedCertificateEntries: entries,
	}, c.cert
	if c.issuer != nil { // a coordinator's: it carries the coordinator's certificate
		issuer, tmpl.ExtraExtensions = c.issuer, []pkix.Extension{{Id: oidIssuedBy, Value: c.issuer.Raw}}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, c.key)
	if err != nil {
		return nil, fmt.Errorf("membership: signing CRL %d: %w", number, err)
	}
	return der, nil
}

// parseCRL decodes a CRL and checks it is signed by ca with a positive
// number. It decodes bytes from the network and disk and is fuzzed.
func parseCRL(der []byte, ca *x509.Certificate) (*x509.RevocationList, error) {
	if len(der) > maxCRL {
		return nil, fmt.Errorf("membership: CRL of %d bytes (limit %d): %w", len(der), maxCRL, ErrMessageTooLarge)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("membership: CRL: %v: %w", err, ErrMalformed)
	}
	signer, err := crlSigner(l, ca)
	if err != nil {
		return nil, err
	}
	if err := l.CheckSignatureFrom(signer); err != nil {
		return nil, fmt.Errorf("membership: CRL %v is not signed by this network's CA: %v: %w", l.Number, err, ErrWrongCA)
	}
	if l.Number == nil || l.Number.Sign() <= 0 || !l.Number.IsInt64() {
		return nil, fmt.Errorf("membership: CRL number %v is not a positive 63-bit integer: %w", l.Number, ErrMalformed)
	}
	return l, nil
}

// CRL is the newest revocation list this node holds (DER), or nil if none;
// the integrator may also store it in the DHT.
func (m *Membership) CRL() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crl.der
}

// CRLNumber is the number of the newest CRL held (0: none).
func (m *Membership) CRLNumber() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crl.number
}

// isRevoked is the Verifier's revocation check.
func (m *Membership) isRevoked(serial *big.Int, p peer.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, barred := m.block.revoked[p]
	return m.crl.serials[serialHex(serial)] || barred
}

// ApplyCRL adopts a CRL signed by the network's CA if it is newer than the
// one held: it is saved in Dir, revoked peers are disconnected and refused
// from then on, and it is forwarded to every connected member. A CRL that
// is not newer returns an error wrapping ErrStaleCRL, which gossip ignores.
func (m *Membership) ApplyCRL(der []byte) error { return m.applyCRL(der, "", nil) }

// applyCRL is ApplyCRL for a CRL received from peer from (not sent back to
// it), also dropping the peers in also (the bootstrap knows the peer IDs of
// the members it revokes even if this node never saw their certificates).
// Peers refused for a serial that the new CRL lists as superseded (their
// revocation was lifted) are refused no longer.
func (m *Membership) applyCRL(der []byte, from peer.ID, also []peer.ID) error {
	l, err := parseCRL(der, m.verify.ca)
	if err != nil {
		return err
	}
	n := l.Number.Int64()
	serials, barred := crlSerials(l)
	m.mu.Lock()
	if n < m.crl.number || n == m.crl.number && !l.ThisUpdate.After(m.crl.issued) {
		have := m.crl.number
		m.mu.Unlock()
		return fmt.Errorf("membership: CRL %d, have %d: %w", n, have, ErrStaleCRL)
	}
	m.crl = crlState{der: append([]byte(nil), der...), number: n, issued: l.ThisUpdate, next: l.NextUpdate, serials: serials, barred: barred}
	bars := make(map[peer.ID]string, len(also))
	for _, p := range also {
		bars[p] = ""
	}
	for s := range barred {
		if p, ok := m.roster.serials[s]; ok {
			if _, has := bars[p]; !has {
				bars[p] = s
			}
		}
	}
	for p, s := range m.block.revoked {
		if s != "" && !barred[s] {
			delete(m.block.revoked, p)
			m.log.Info("revocation lifted", "peer", p, "crl", n)
		}
	}
	if m.own != nil && serials[serialHex(m.own.Serial)] {
		m.log.Error("this node's own certificate is revoked", "crl", n)
	}
	h := m.h
	m.mu.Unlock()
	if err := m.saveCRL(n, der); err != nil {
		m.log.Error("cannot persist CRL", "crl", n, "err", err)
	}
	m.revokePeers(bars, fmt.Sprintf("CRL %d", n))
	if m.cfg.OnCRL != nil {
		m.cfg.OnCRL(n)
	}
	if h != nil {
		for _, p := range h.Network().Peers() {
			if p != from && m.IsMember(p) {
				m.spawn(func() { m.pushCRL(p, der) })
			}
		}
	}
	return nil
}

// revokePeers refuses the peers of bars for good (until a lift) and
// disconnects them. Each maps to the serial that bars it, or "" if the
// bootstrap's registry does.
func (m *Membership) revokePeers(bars map[peer.ID]string, by string) {
	var gone []peer.ID
	m.mu.Lock()
	for p, s := range bars {
		if _, ok := m.block.revoked[p]; !ok {
			m.block.revoked[p] = s
			delete(m.roster.members, p)
			m.signalLocked(p)
			gone = append(gone, p)
		}
	}
	h := m.h
	m.mu.Unlock()
	for _, p := range gone {
		m.log.Info("revoked peer dropped", "peer", p, "by", by)
		if h != nil {
			_ = h.Network().ClosePeer(p)
		}
		if m.cfg.OnDrop != nil {
			m.cfg.OnDrop(p, fmt.Errorf("membership: peer %s is revoked by %s: %w", p, by, ErrRevoked))
		}
	}
}

// saveCRL writes the CRL to Dir unless a newer one was written meanwhile.
func (m *Membership) saveCRL(n int64, der []byte) error {
	if m.cfg.Dir == "" {
		return nil
	}
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	m.mu.Lock()
	newest := m.crl.number
	m.mu.Unlock()
	if n < newest {
		return nil
	}
	if err := ensureDir(m.cfg.Dir); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(m.cfg.Dir, crlFile), der)
}

// loadCRL reads the CRL kept in Dir, if any, at New.
func (m *Membership) loadCRL() error {
	if m.cfg.Dir == "" {
		return nil
	}
	path := filepath.Join(m.cfg.Dir, crlFile)
	der, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("membership: %w", err)
	}
	l, err := parseCRL(der, m.verify.ca)
	if err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	serials, barred := crlSerials(l)
	m.crl = crlState{der: der, number: l.Number.Int64(), issued: l.ThisUpdate, next: l.NextUpdate, serials: serials, barred: barred}
	return nil
}

// CRLStale reports, if the newest CRL held was current until before now
// (its NextUpdate passed, and no refresh of it came), when that was.
// A node with no CRL has nothing stale.
func (m *Membership) CRLStale(now time.Time) (since time.Time, stale bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crl.der == nil || m.crl.next.IsZero() || now.Before(m.crl.next) {
		return time.Time{}, false
	}
	return m.crl.next, true
}

// pushCRL sends a CRL to p.
func (m *Membership) pushCRL(p peer.ID, der []byte) {
	m.mu.Lock()
	h := m.h
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, streamTimeout)
	defer cancel()
	s, err := h.NewStream(network.WithNoDial(ctx, "crl gossip"), p, ProtocolCRL)
	if err != nil {
		m.log.Debug("cannot push CRL", "peer", p, "err", err)
		return
	}
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	if err := writeFrame(s, der); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// handleCRL receives a CRL from a member and applies it; a newer one is
// forwarded on by applyCRL.
func (m *Membership) handleCRL(s network.Stream) {
	p := s.Conn().RemotePeer()
	defer s.Close()
	if !m.Allow(p) {
		_ = s.Reset()
		return
	}
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	der, err := readFrame(s, maxCRL, "CRL")
	if err != nil {
		_ = s.Reset()
		return
	}
	if err := m.applyCRL(der, p, nil); err != nil && !errors.Is(err, ErrStaleCRL) {
		m.log.Warn("bad CRL from member", "peer", p, "err", err)
	}
}

// liftPeers stops refusing ps, whose revocation the bootstrap lifted: the
// bootstrap node's own refusals, which its registry set.
func (m *Membership) liftPeers(ps []peer.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		delete(m.block.revoked, p)
	}
}
