package membership

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Coordinators' certificates. A coordinator (internal/coord) admits
// newcomers without the root's key: the root gives it an intermediate CA
// certificate for its own libp2p key — path length 0, so it signs member
// certificates and nothing below them, valid for a short while, and
// revocable by serial like a member's — and the coordinator signs member
// certificates with its libp2p key under it. Each such member certificate
// carries the coordinator's certificate in an extension, so a member that
// holds only the root verifies it: the coordinator's certificate against
// the root (unexpired, not revoked), then the member's against it.

// DefaultCoordinatorTTL is a coordinator certificate's lifetime unless the
// root is told otherwise: short, so that a coordinator's certificate
// dismissed and not renewed lapses by itself within days.
const DefaultCoordinatorTTL = 7 * 24 * time.Hour

// oidIssuedBy is the extension of a member certificate that a coordinator
// signed: its value is the coordinator's certificate (DER). The arc is
// p2pshare's own, under 2.25 (X.667's UUID arc) with a random number
// small enough for Go's certificate parser, which takes arcs below 2^31.
var oidIssuedBy = asn1.ObjectIdentifier{2, 25, 77503518, 1}

// CoordinatorCert is a decoded coordinator certificate.
type CoordinatorCert struct {
	DER       []byte
	Peer      peer.ID // derived from the certificate's key
	Name      string
	Serial    *big.Int
	NotBefore time.Time
	NotAfter  time.Time
	NetworkID string
	x509      *x509.Certificate
}

// IssueCoordinator signs a coordinator certificate for r.Peer (r.Role is
// ignored; r.TTL 0 means DefaultCoordinatorTTL). Only the root may: a
// coordinator's CA cannot make another coordinator.
func (c *CA) IssueCoordinator(r IssueRequest) (*CoordinatorCert, error) {
	if c.issuer != nil {
		return nil, fmt.Errorf("membership: coordinator %q cannot appoint %q: only the network's root signs coordinator certificates", c.issuer.Subject.CommonName, r.Name)
	}
	tmpl, pub, err := template(r, "coordinator", DefaultCoordinatorTTL)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	tmpl.IsCA, tmpl.MaxPathLen, tmpl.MaxPathLenZero = true, 0, true
	tmpl.URIs = []*url.URL{{Scheme: "p2pshare", Opaque: c.NetworkID() + ":coordinator:" + r.Peer.String()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("membership: issuing the coordinator certificate of %s: %w", r.Name, err)
	}
	return ParseCoordinatorCert(der)
}

// ParseCoordinatorCert decodes a coordinator certificate and checks its
// shape: an Ed25519 CA certificate of path length 0 whose one URI SAN names
// the peer its key derives. It does not check the signature, expiry or
// revocation. It decodes bytes from the network and is fuzzed.
func ParseCoordinatorCert(der []byte) (*CoordinatorCert, error) {
	if len(der) > maxCertDER {
		return nil, fmt.Errorf("membership: coordinator certificate of %d bytes (limit %d): %w", len(der), maxCertDER, ErrMessageTooLarge)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("membership: coordinator certificate: %v: %w", err, ErrMalformed)
	}
	p, err := certPeer(c)
	if err != nil {
		return nil, err
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("membership: certificate %q is not a coordinator's (CA=%v, path length %d): %w", c.Subject.CommonName, c.IsCA, c.MaxPathLen, ErrMalformed)
	}
	if len(c.URIs) != 1 {
		return nil, fmt.Errorf("membership: coordinator certificate %q has %d URIs, want 1: %w", c.Subject.CommonName, len(c.URIs), ErrMalformed)
	}
	u := c.URIs[0]
	netID, sanPeer, ok := strings.Cut(u.Opaque, ":coordinator:")
	if u.Scheme != "p2pshare" || !ok || netID == "" {
		return nil, fmt.Errorf("membership: coordinator certificate SAN %q is not p2pshare:<network>:coordinator:<id>: %w", u, ErrMalformed)
	}
	if sanPeer != p.String() {
		return nil, fmt.Errorf("membership: coordinator certificate SAN names peer %.60q but its key is peer %s: %w", sanPeer, p, ErrPeerMismatch)
	}
	if err := validName(c.Subject.CommonName); err != nil {
		return nil, err
	}
	return &CoordinatorCert{DER: bytes.Clone(der), Peer: p, Name: c.Subject.CommonName, Serial: c.SerialNumber,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, NetworkID: netID, x509: c}, nil
}

// certPeer is the peer ID of a certificate's Ed25519 key.
func certPeer(c *x509.Certificate) (peer.ID, error) {
	key, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok {
		return "", fmt.Errorf("membership: certificate key is %v, want Ed25519: %w", c.PublicKeyAlgorithm, ErrMalformed)
	}
	lk, err := crypto.UnmarshalEd25519PublicKey(key)
	if err != nil {
		return "", fmt.Errorf("membership: certificate key: %v: %w", err, ErrMalformed)
	}
	p, err := peer.IDFromPublicKey(lk)
	if err != nil {
		return "", fmt.Errorf("membership: certificate key: %v: %w", err, ErrMalformed)
	}
	return p, nil
}

// NewCoordinatorCA is the CA of a coordinator: it issues member
// certificates under its coordinator certificate coordDER, signed with
// key, the coordinator's libp2p key, for the network whose root is rootDER.
// It checks that the certificate is the root's, for key, and unexpired at
// now.
func NewCoordinatorCA(rootDER, coordDER []byte, key crypto.PrivKey, now time.Time) (*CA, error) {
	root, err := ParseCACert(rootDER)
	if err != nil {
		return nil, err
	}
	cc, err := ParseCoordinatorCert(coordDER)
	if err != nil {
		return nil, err
	}
	if err := checkCoordinator(cc, root, now); err != nil {
		return nil, err
	}
	std, err := crypto.PrivKeyToStdKey(key)
	if err != nil {
		return nil, fmt.Errorf("membership: coordinator key: %w", err)
	}
	k, ok := std.(*ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("membership: coordinator key is a %T, want Ed25519", std)
	}
	if !bytes.Equal(k.Public().(ed25519.PublicKey), cc.x509.PublicKey.(ed25519.PublicKey)) {
		return nil, fmt.Errorf("membership: the coordinator certificate of %q is for peer %s, not for this key", cc.Name, cc.Peer)
	}
	return &CA{cert: root, key: *k, fp: Fingerprint(root), issuer: cc.x509}, nil
}

// checkCoordinator checks a coordinator certificate against the network's
// root at now: same network, signed by the root, in its validity.
func checkCoordinator(cc *CoordinatorCert, root *x509.Certificate, now time.Time) error {
	fp := Fingerprint(root)
	if netID := fmt.Sprintf("%x", fp[:]); cc.NetworkID != netID {
		return fmt.Errorf("membership: coordinator certificate of %q is for network %.16s…, not %.16s…: %w", cc.Name, cc.NetworkID, netID, ErrWrongCA)
	}
	if err := cc.x509.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("membership: coordinator certificate of %q is not signed by the network's root: %v: %w", cc.Name, err, ErrWrongCA)
	}
	if now.After(cc.NotAfter) || now.Before(cc.NotBefore) {
		return fmt.Errorf("membership: coordinator certificate of %q (peer %s) is valid from %s to %s, not at %s: %w",
			cc.Name, cc.Peer, stamp(cc.NotBefore), stamp(cc.NotAfter), stamp(now), ErrExpired)
	}
	return nil
}

// Coordinator is the coordinator certificate this CA issues under, or nil
// for the root itself.
func (c *CA) Coordinator() []byte {
	if c.issuer == nil {
		return nil
	}
	return c.issuer.Raw
}

// IssuedBy is the coordinator certificate (DER) under which a coordinator
// signed m, or nil if the root did.
func (m *MemberCert) IssuedBy() []byte { return issuedBy(m.x509) }

// issuedBy is the coordinator certificate a member certificate carries,
// or nil if the root signed it.
func issuedBy(c *x509.Certificate) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidIssuedBy) {
			return e.Value
		}
	}
	return nil
}

// issuerOf is the certificate that must have signed m: the root, or the
// coordinator certificate m carries, once that is checked against the
// root and the revocation list at now.
func (v *Verifier) issuerOf(m *MemberCert, now time.Time) (*x509.Certificate, error) {
	der := issuedBy(m.x509)
	if der == nil {
		return v.ca, nil
	}
	cc, err := ParseCoordinatorCert(der)
	if err != nil {
		return nil, fmt.Errorf("membership: certificate of %q names a coordinator: %w", m.Name, err)
	}
	if err := checkCoordinator(cc, v.ca, now); err != nil {
		return nil, fmt.Errorf("membership: certificate of %q: %w", m.Name, err)
	}
	if v.revoked(cc.Serial, cc.Peer) {
		return nil, fmt.Errorf("membership: certificate of %q was issued by coordinator %q (peer %s), whose certificate %x is revoked: %w",
			m.Name, cc.Name, cc.Peer, cc.Serial, ErrRevoked)
	}
	return cc.x509, nil
}

// crlSigner is the certificate that must have signed CRL l: the root, or
// the coordinator's certificate the CRL carries, once that is checked
// against the root at the time the CRL was made.
func crlSigner(l *x509.RevocationList, root *x509.Certificate) (*x509.Certificate, error) {
	var der []byte
	for _, e := range l.Extensions {
		if e.Id.Equal(oidIssuedBy) {
			der = e.Value
		}
	}
	if der == nil {
		return root, nil
	}
	cc, err := ParseCoordinatorCert(der)
	if err != nil {
		return nil, fmt.Errorf("membership: CRL %v names a coordinator: %w", l.Number, err)
	}
	if err := checkCoordinator(cc, root, l.ThisUpdate); err != nil {
		return nil, fmt.Errorf("membership: CRL %v: %w", l.Number, err)
	}
	return cc.x509, nil
}

// CheckCRL decodes a CRL and checks that the network whose root is
// rootDER signed it, by its root or by a coordinator the root appointed.
func CheckCRL(der, rootDER []byte) (*x509.RevocationList, error) {
	root, err := ParseCACert(rootDER)
	if err != nil {
		return nil, err
	}
	return parseCRL(der, root)
}
