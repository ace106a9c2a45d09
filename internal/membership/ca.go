// Package membership makes a p2pshare network private: the network's
// certificate authority, member certificates that bind a libp2p peer ID to a
// name and a role, invites, the bootstrap's admission protocol and durable
// registry, the credential exchange every connection runs before any other
// p2pshare traffic, a connection gater, and revocation lists spread by gossip.
//
// The bootstrap (first node) opens a Bootstrap, which holds the CA and the
// registry; every node, the bootstrap included, runs a Membership, which
// checks peers. See DESIGN.md §3 and issue 3.
//
// Wiring, on every node:
//
//	m, _ := membership.New(membership.Config{CA: creds.CA, Cert: creds.Cert, Self: id, Dir: dir,
//		OnAdmit: func(p peer.ID) { dht.RoutingTable().TryAddPeer(p, true, false) }})
//	h := libp2p host built with libp2p.ConnectionGater(m.Gater())
//	m.Attach(h)
//	swarm.NewRegistry(h, log, m.Allow)
//	discovery.New(m.Guard(h), discovery.Options{Filter: m.IsMember})
//
// On the bootstrap, before New: b, _ := OpenBootstrap(...); cert, _ :=
// b.SelfCert(id, name, role); and after Attach: b.Attach(h, m). A newcomer
// calls Join with an invite on a plain host first, and keeps the result
// with SaveCredentials.
package membership

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// File names inside a node's data directory.
const (
	caKeyFile  = "ca.key" // bootstrap only: the CA's private key (PKCS#8 PEM)
	caCertFile = "ca.crt" // every node: the network's root certificate (PEM)
	caLifetime = 10 * 365 * 24 * time.Hour
	maxCertDER = 4096 // bytes: a certificate from the network larger than this is refused
)

// CA is a network's certificate authority: an Ed25519 key and a self-signed
// X.509 root. The network's ID is the hex SHA-256 of the root's public key
// (its SubjectPublicKeyInfo), which invites pin.
type CA struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
	fp   [32]byte
	// issuer is a coordinator's own certificate (coordcert.go), under
	// which a coordinator's CA issues with the coordinator's key; nil: the
	// root issues with its own.
	issuer *x509.Certificate
}

// LoadOrCreateCA loads the CA kept in dir, or, if dir holds none, creates
// one and saves it (key mode 0600, dir 0700). Half a CA (a key without its
// certificate or the reverse) is an error, never silently replaced: that
// would make a new network.
func LoadOrCreateCA(dir string, now time.Time) (*CA, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	keyPath, certPath := filepath.Join(dir, caKeyFile), filepath.Join(dir, caCertFile)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(certPath)
	switch {
	case kerr == nil && cerr == nil:
		return loadCA(keyPath, certPath)
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(cerr, fs.ErrNotExist):
		return createCA(keyPath, certPath, now)
	case kerr == nil:
		return nil, fmt.Errorf("membership: %s exists but %s does not: restore it, or remove both to start a new network", keyPath, certPath)
	case cerr == nil && errors.Is(kerr, fs.ErrNotExist):
		return nil, fmt.Errorf("membership: %s exists but %s does not: this node is a member, not the network's bootstrap", certPath, keyPath)
	default:
		return nil, fmt.Errorf("membership: CA files in %s: %w", dir, errors.Join(kerr, cerr))
	}
}

func createCA(keyPath, certPath string, now time.Time) (*CA, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	fp := sha256.Sum256(mustSPKI(pub))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "p2pshare network " + hex.EncodeToString(fp[:8]), Organization: []string{"p2pshare"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// One level below the root is left free for a second admission
		// node's intermediate CA (issue 3, "coordinator down").
		MaxPathLen: 1,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("membership: creating CA certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a crash between the two writes leaves a key without a
	// certificate, which LoadOrCreateCA reports instead of replacing.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return nil, err
	}
	return loadCA(keyPath, certPath)
}

func loadCA(keyPath, certPath string) (*CA, error) {
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(keyPath)
		if err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("membership: CA key %s has mode %v; it must be 0600", keyPath, fi.Mode().Perm())
		}
	}
	kb, err := readPEM(keyPath, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("membership: CA key %s: %w", keyPath, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("membership: CA key %s is a %T, want Ed25519", keyPath, k)
	}
	cb, err := readPEM(certPath, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := ParseCACert(cb)
	if err != nil {
		return nil, fmt.Errorf("membership: %s: %w", certPath, err)
	}
	if !bytes.Equal(cert.PublicKey.(ed25519.PublicKey), key.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("membership: CA key %s does not match certificate %s", keyPath, certPath)
	}
	return &CA{cert: cert, key: key, fp: Fingerprint(cert)}, nil
}

// ParseCACert decodes a network root certificate and checks that it is one:
// a self-signed Ed25519 CA. It is a decoder of bytes from the network (the
// admission challenge carries it) and is fuzzed.
func ParseCACert(der []byte) (*x509.Certificate, error) {
	if len(der) > maxCertDER {
		return nil, fmt.Errorf("membership: CA certificate of %d bytes (limit %d): %w", len(der), maxCertDER, ErrMessageTooLarge)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("membership: CA certificate: %v: %w", err, ErrMalformed)
	}
	if _, ok := c.PublicKey.(ed25519.PublicKey); !ok {
		return nil, fmt.Errorf("membership: CA certificate key is %v, want Ed25519: %w", c.PublicKeyAlgorithm, ErrMalformed)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("membership: certificate %q is not a CA: %w", c.Subject.CommonName, ErrMalformed)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		return nil, fmt.Errorf("membership: CA certificate %q is not self-signed: %v: %w", c.Subject.CommonName, err, ErrMalformed)
	}
	return c, nil
}

// Fingerprint is the SHA-256 of a certificate's SubjectPublicKeyInfo: what
// an invite pins, and, in hex, the network's ID.
func Fingerprint(c *x509.Certificate) [32]byte { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// NetworkID is the network's name in certificates and logs: the hex of the
// CA's fingerprint.
func (c *CA) NetworkID() string { return hex.EncodeToString(c.fp[:]) }

// Fingerprint is the CA's pin (see the package function Fingerprint).
func (c *CA) Fingerprint() [32]byte { return c.fp }

// Certificate is the parsed root certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertDER is the root certificate's DER, which every member keeps.
func (c *CA) CertDER() []byte { return c.cert.Raw }

// sign signs msg with the CA key; the admission challenge uses it.
func (c *CA) sign(msg []byte) []byte { return ed25519.Sign(c.key, msg) }

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("membership: %s holds no PEM %q block: %w", path, typ, ErrMalformed)
	}
	return blk.Bytes, nil
}

func writePEM(path, typ string, der []byte) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func mustSPKI(pub ed25519.PublicKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // an Ed25519 key always marshals
	}
	return b
}

// randomSerial is a random, non-zero 128-bit certificate serial.
func randomSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if s := new(big.Int).SetBytes(b[:]); s.Sign() > 0 {
			return s, nil
		}
	}
}
