package membership

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Role is what a member is in its class network.
type Role string

// The roles a member certificate can carry.
const (
	RoleTeacher Role = "teacher"
	RoleStudent Role = "student"
	RoleSeeder  Role = "seeder"
)

// DefaultCertTTL is a member certificate's lifetime unless the bootstrap is
// configured otherwise; members renew before it ends.
const DefaultCertTTL = 30 * 24 * time.Hour

// RenewGrace is how long after its certificate expired a member may
// still renew it (a laptop closed for the summer): under the name it had,
// with no invite. Past it, the member joins again with an invite. A
// revoked member is never renewed.
const RenewGrace = 120 * 24 * time.Hour

// ClockSkew is how far apart the clocks of the bootstrap and its members
// may be: a certificate's NotBefore is back-dated by it, and a verifier
// takes one whose NotBefore is up to ClockSkew ahead of its own clock.
const ClockSkew = time.Hour

// maxNameLen is the longest member name, in bytes.
const maxNameLen = 64

// validRole reports an error naming r unless it is one of the three roles.
func validRole(r Role) error {
	switch r {
	case RoleTeacher, RoleStudent, RoleSeeder:
		return nil
	}
	return fmt.Errorf("membership: role %q is not teacher, student or seeder: %w", r, ErrMalformed)
}

// MemberCert is a decoded member certificate: an X.509 leaf, signed by the
// network CA, whose public key is the member's libp2p Ed25519 key, so it
// binds the member's peer ID.
type MemberCert struct {
	DER       []byte
	Peer      peer.ID // derived from the certificate's key
	Name      string  // Subject CommonName
	Role      Role    // Subject OrganizationalUnit
	Serial    *big.Int
	NotBefore time.Time
	NotAfter  time.Time
	NetworkID string // from the URI SAN p2pshare:<networkID>:peer:<peerID>
	x509      *x509.Certificate
}

// IssueRequest is what the CA certifies.
type IssueRequest struct {
	Peer peer.ID // must be an Ed25519 peer ID
	Name string
	Role Role
	Now  time.Time     // NotBefore is ClockSkew earlier
	TTL  time.Duration // 0 means DefaultCertTTL
	// Serial, if set, is the serial to use (the bootstrap records it
	// durably before signing); nil means a fresh random 128-bit one.
	Serial *big.Int
}

// Issue signs a member certificate with a fresh random 128-bit serial.
func (c *CA) Issue(r IssueRequest) (*MemberCert, error) {
	if err := validRole(r.Role); err != nil {
		return nil, err
	}
	tmpl, pub, err := template(r, string(r.Role), DefaultCertTTL)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
	tmpl.URIs = []*url.URL{sanURI(c.NetworkID(), r.Peer)}
	parent := c.cert
	if c.issuer != nil && !r.Now.Before(c.issuer.NotAfter) {
		return nil, fmt.Errorf("membership: the coordinator certificate of %q ended at %s: it signs no certificate until the network's root renews it: %w",
			c.issuer.Subject.CommonName, stamp(c.issuer.NotAfter), ErrExpired)
	}
	if c.issuer != nil { // a coordinator's: it carries the coordinator's certificate
		// and ends with it, since it is void once that has: the member
		// renews in time.
		if tmpl.NotAfter.After(c.issuer.NotAfter) {
			tmpl.NotAfter = c.issuer.NotAfter
		}
		parent = c.issuer
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidIssuedBy, Value: c.issuer.Raw}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("membership: issuing certificate for %s: %w", r.Name, err)
	}
	return ParseMemberCert(der)
}

// template is what a member's certificate and a coordinator's share: r
// checked (a valid name, an Ed25519 peer), its serial (r.Serial, or a
// fresh random one), the subject (r.Name, with ou as its one
// organizational unit), and a validity from ClockSkew before r.Now for
// r.TTL (ttl if that is 0). It returns the key the certificate certifies.
func template(r IssueRequest, ou string, ttl time.Duration) (*x509.Certificate, ed25519.PublicKey, error) {
	if err := validName(r.Name); err != nil {
		return nil, nil, err
	}
	pub, err := peerKey(r.Peer)
	if err != nil {
		return nil, nil, err
	}
	if r.TTL > 0 {
		ttl = r.TTL
	}
	serial := r.Serial
	if serial == nil {
		if serial, err = randomSerial(); err != nil {
			return nil, nil, err
		}
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.Name, OrganizationalUnit: []string{ou}},
		NotBefore:             r.Now.Add(-ClockSkew),
		NotAfter:              r.Now.Add(ttl),
		BasicConstraintsValid: true,
	}, pub, nil
}

// sanURI is p2pshare:<networkID>:peer:<peerID>.
func sanURI(networkID string, p peer.ID) *url.URL {
	return &url.URL{Scheme: "p2pshare", Opaque: networkID + ":peer:" + p.String()}
}

// peerKey is the Ed25519 key a peer ID embeds; other key types are refused.
func peerKey(p peer.ID) (ed25519.PublicKey, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("membership: peer %s: no embedded public key: %v: %w", p, err, ErrMalformed)
	}
	std, err := crypto.PubKeyToStdKey(pk)
	if err != nil {
		return nil, fmt.Errorf("membership: peer %s: %v: %w", p, err, ErrMalformed)
	}
	k, ok := std.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("membership: peer %s has a %T key, want Ed25519: %w", p, std, ErrMalformed)
	}
	return k, nil
}

// ParseMemberCert decodes a member certificate and checks its shape: an
// Ed25519 key, one URI SAN naming the peer ID that key derives, a valid name
// and role. It does not check the signature, expiry or revocation (Verify
// does). It decodes bytes from the network and is fuzzed.
func ParseMemberCert(der []byte) (*MemberCert, error) {
	if len(der) > maxCertDER {
		return nil, fmt.Errorf("membership: certificate of %d bytes (limit %d): %w", len(der), maxCertDER, ErrMessageTooLarge)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("membership: certificate: %v: %w", err, ErrMalformed)
	}
	key, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("membership: certificate key is %v, want Ed25519: %w", c.PublicKeyAlgorithm, ErrMalformed)
	}
	lk, err := crypto.UnmarshalEd25519PublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("membership: certificate key: %v: %w", err, ErrMalformed)
	}
	p, err := peer.IDFromPublicKey(lk)
	if err != nil {
		return nil, fmt.Errorf("membership: certificate key: %v: %w", err, ErrMalformed)
	}
	if c.IsCA || len(c.URIs) != 1 || len(c.Subject.OrganizationalUnit) != 1 {
		return nil, fmt.Errorf("membership: certificate %q is not a member certificate (CA=%v, %d URIs, %d roles): %w",
			c.Subject.CommonName, c.IsCA, len(c.URIs), len(c.Subject.OrganizationalUnit), ErrMalformed)
	}
	u := c.URIs[0]
	netID, sanPeer, ok := strings.Cut(u.Opaque, ":peer:")
	if u.Scheme != "p2pshare" || !ok || netID == "" {
		return nil, fmt.Errorf("membership: certificate SAN %q is not p2pshare:<network>:peer:<id>: %w", u, ErrMalformed)
	}
	if sanPeer != p.String() {
		return nil, fmt.Errorf("membership: certificate SAN names peer %.60q but its key is peer %s: %w", sanPeer, p, ErrPeerMismatch)
	}
	m := &MemberCert{
		DER: bytes.Clone(der), Peer: p, Name: c.Subject.CommonName, Role: Role(c.Subject.OrganizationalUnit[0]),
		Serial: c.SerialNumber, NotBefore: c.NotBefore, NotAfter: c.NotAfter, NetworkID: netID, x509: c,
	}
	if err := validName(m.Name); err != nil {
		return nil, err
	}
	if err := validRole(m.Role); err != nil {
		return nil, err
	}
	return m, nil
}

// Verifier checks member certificates against one network's CA and its
// current revocation list. It is safe for concurrent use if revoked is.
type Verifier struct {
	ca      *x509.Certificate
	pool    *x509.CertPool
	netID   string
	revoked func(serial *big.Int, p peer.ID) bool
	seen    verifiedCerts // root-issued certificates whose chain checked out
}

// NewVerifier checks certificates against the root caDER. revoked (nil:
// nothing is revoked) reports whether a serial or peer is on the CRL.
func NewVerifier(caDER []byte, revoked func(serial *big.Int, p peer.ID) bool) (*Verifier, error) {
	ca, err := ParseCACert(caDER)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	fp := Fingerprint(ca)
	if revoked == nil {
		revoked = func(*big.Int, peer.ID) bool { return false }
	}
	return &Verifier{ca: ca, pool: pool, netID: fmt.Sprintf("%x", fp[:]), revoked: revoked}, nil
}

// NetworkID is the hex fingerprint of the verifier's CA.
func (v *Verifier) NetworkID() string { return v.netID }

// Verify checks that certDER is a member certificate of this network that
// chains to the CA, whose key is remote's key (so it binds remote's
// authenticated peer ID), and which is unexpired at now and not revoked.
func (v *Verifier) Verify(certDER []byte, remote peer.ID, now time.Time) (*MemberCert, error) {
	key := certKey(certDER) // hashed once, for the look-up and the memory
	if m := v.seen.get(key); m != nil && v.chainValidAt(m, now) {
		return v.holds(m, remote)
	}
	m, err := ParseMemberCert(certDER)
	if err != nil {
		return nil, err
	}
	if m.NetworkID != v.netID {
		return nil, fmt.Errorf("membership: certificate of %q is for network %.16s…, not %.16s…: %w", m.Name, m.NetworkID, v.netID, ErrWrongCA)
	}
	issuer, err := v.issuerOf(m, now)
	if err != nil {
		return nil, err
	}
	at := now
	if now.Before(m.NotBefore) && !now.Add(ClockSkew).Before(m.NotBefore) {
		at = m.NotBefore // within the skew: the path checked at its start
	}
	// The full path check (signatures, key usages, constraints, the CA's
	// own validity); only when it fails is the failure named (why), so a
	// good certificate costs one Ed25519 verification, not two.
	opts := x509.VerifyOptions{Roots: v.pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if issuer != v.ca {
		opts.Intermediates = x509.NewCertPool()
		opts.Intermediates.AddCert(issuer)
	}
	chains, err := m.x509.Verify(opts)
	if err != nil || !signedBy(chains, issuer) {
		return nil, v.why(m, issuer, now, err)
	}
	if issuer == v.ca {
		v.seen.put(key, m)
	}
	return v.holds(m, remote)
}

// signedBy reports whether one of chains has issuer as the certificate
// right above the leaf: the issuer the certificate names is the one that
// signed it.
func signedBy(chains [][]*x509.Certificate, issuer *x509.Certificate) bool {
	for _, c := range chains {
		if len(c) > 1 && c[1].Equal(issuer) {
			return true
		}
	}
	return false
}

// why names what is wrong with m, whose path check failed with verr (nil
// if it passed through another issuer than the one m names): the
// signature, the validity period, or else the path itself.
func (v *Verifier) why(m *MemberCert, issuer *x509.Certificate, now time.Time, verr error) error {
	if err := m.x509.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("membership: certificate of %q is not signed by network %.16s…: %v: %w", m.Name, v.netID, err, ErrWrongCA)
	}
	if now.After(m.NotAfter) {
		return fmt.Errorf("membership: certificate of %q (peer %s) expired at %s: %w", m.Name, m.Peer, m.NotAfter.UTC().Format(time.RFC3339), ErrExpired)
	}
	if now.Add(ClockSkew).Before(m.NotBefore) {
		return fmt.Errorf("membership: certificate of %q (peer %s) is not valid before %s, %s after this node's clock (%s allowed for clock skew): %w",
			m.Name, m.Peer, m.NotBefore.UTC().Format(time.RFC3339), m.NotBefore.Sub(now).Round(time.Second), ClockSkew, ErrExpired)
	}
	if verr == nil {
		verr = errors.New("its path passes through another issuer than the one it names")
	}
	return fmt.Errorf("membership: certificate of %q does not chain to network %.16s…: %v: %w", m.Name, v.netID, verr, ErrWrongCA)
}

// holds finishes Verify for a certificate whose chain checked out: it must
// be remote's, and neither it nor its member revoked. The result is a copy,
// so that callers never share what the Verifier remembers.
func (v *Verifier) holds(m *MemberCert, remote peer.ID) (*MemberCert, error) {
	rk, err := peerKey(remote)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(rk, m.x509.PublicKey.(ed25519.PublicKey)) || m.Peer != remote {
		return nil, fmt.Errorf("membership: peer %s presented the certificate of %q for peer %s: %w", remote, m.Name, m.Peer, ErrPeerMismatch)
	}
	if v.revoked(m.Serial, m.Peer) {
		return nil, fmt.Errorf("membership: certificate %x of %q (peer %s): %w", m.Serial, m.Name, m.Peer, ErrRevoked)
	}
	c := *m
	return &c, nil
}
