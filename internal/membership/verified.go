package membership

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCerts remembers the member certificates, signed by the root,
// whose signature and chain a Verifier has checked, by the SHA-256 of
// their DER. A member's certificate is checked again and again: on each
// connection it opens, and in the directory entries and records the DHT
// validates; each check is two Ed25519 signature checks and an X.509 parse,
// which in a profile of a quiz to 50 from spawn was 4 % of the class's
// CPU. The same bytes have the same signature, so a certificate seen
// before needs only the checks that depend on the time, the peer and the
// revocation list, which Verify makes every time.
type verifiedCerts struct {
	mu sync.Mutex
	m  map[[32]byte]*MemberCert
}

// maxVerified bounds the certificates remembered; past it, the memory
// starts empty again (a class's members fit many times over).
const maxVerified = 4096

// certKey is what verifiedCerts knows a certificate by.
func certKey(der []byte) [32]byte { return sha256.Sum256(der) }

func (c *verifiedCerts) get(k [32]byte) *MemberCert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *verifiedCerts) put(k [32]byte, m *MemberCert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = map[[32]byte]*MemberCert{}
	}
	c.m[k] = m
}

// chainValidAt reports whether a root-issued certificate m, whose chain
// checked out once, checks out at now: the checks of Verify and
// x509.Verify that depend on the time.
func (v *Verifier) chainValidAt(m *MemberCert, now time.Time) bool {
	at := now
	if at.Before(m.NotBefore) {
		at = m.NotBefore
	}
	return !now.After(m.NotAfter) && !now.Add(ClockSkew).Before(m.NotBefore) &&
		!at.Before(v.ca.NotBefore) && !at.After(v.ca.NotAfter)
}
