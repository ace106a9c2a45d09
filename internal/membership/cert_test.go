package membership

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newCA(t testing.TB) *CA {
	t.Helper()
	ca, err := LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func randomPeer(t testing.TB) peer.ID { return peerOf(t, newKey(t)) }

// forge signs a leaf for p with ca's key after mutate has changed the
// template: certificates Issue would never make.
func forge(t testing.TB, ca *CA, p peer.ID, mutate func(*x509.Certificate)) []byte {
	t.Helper()
	pub, err := peerKey(p)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "forged", OrganizationalUnit: []string{"student"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), BasicConstraintsValid: true,
		URIs: []*url.URL{sanURI(ca.NetworkID(), p)},
	}
	mutate(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerify(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	p, q := randomPeer(t), randomPeer(t)
	now := time.Now()
	issue := func(ca *CA, p peer.ID, at time.Time) []byte {
		mc, err := ca.Issue(IssueRequest{Peer: p, Name: "alice", Role: RoleStudent, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return mc.DER
	}
	good := issue(ca, p, now)
	goodSerial, _ := ParseMemberCert(good)
	cases := []struct {
		name    string
		der     []byte
		remote  peer.ID
		at      time.Time
		revoked bool
		want    error
	}{
		{"valid", good, p, now, false, nil},
		{"another CA", issue(other, p, now), p, now, false, ErrWrongCA},
		{"expired", good, p, now.Add(31 * 24 * time.Hour), false, ErrExpired},
		{"verifier's clock 1h59m behind: within the skew", good, p, now.Add(-2*ClockSkew + time.Minute), false, nil},
		{"not yet valid, past the skew", good, p, now.Add(-2*ClockSkew - time.Minute), false, ErrExpired},
		{"another peer presents it", good, q, now, false, ErrPeerMismatch},
		{"revoked", good, p, now, true, ErrRevoked},
		{"SAN names another peer", forge(t, ca, p, func(c *x509.Certificate) { c.URIs = []*url.URL{sanURI(ca.NetworkID(), q)} }), p, now, false, ErrPeerMismatch},
		{"SAN names another network", forge(t, ca, p, func(c *x509.Certificate) { c.URIs = []*url.URL{sanURI(other.NetworkID(), p)} }), p, now, false, ErrWrongCA},
		{"not a p2pshare SAN", forge(t, ca, p, func(c *x509.Certificate) { c.URIs = []*url.URL{{Scheme: "https", Host: "x"}} }), p, now, false, ErrMalformed},
		{"bad role", forge(t, ca, p, func(c *x509.Certificate) { c.Subject.OrganizationalUnit = []string{"admin"} }), p, now, false, ErrMalformed},
		{"a CA certificate", ca.CertDER(), p, now, false, ErrMalformed},
		{"garbage", []byte("not a certificate"), p, now, false, ErrMalformed},
		{"too large", make([]byte, maxCertDER+1), p, now, false, ErrMessageTooLarge},
	}
	// Each case on a fresh verifier, then all on one that has checked the
	// good certificate before and remembers its chain: the checks of the
	// time, the peer and the revocation list must still be made.
	var revoked bool
	remembers, err := NewVerifier(ca.CertDER(), func(s *big.Int, _ peer.ID) bool {
		return revoked && s.Cmp(goodSerial.Serial) == 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remembers.Verify(good, p, now); err != nil {
		t.Fatal(err)
	}
	for _, seen := range []bool{false, true} {
		for _, tc := range cases {
			name := tc.name
			if seen {
				name = "seen before/" + name
			}
			t.Run(name, func(t *testing.T) {
				v := remembers
				if !seen {
					v, err = NewVerifier(ca.CertDER(), func(s *big.Int, _ peer.ID) bool {
						return tc.revoked && s.Cmp(goodSerial.Serial) == 0
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				revoked = tc.revoked
				mc, err := v.Verify(tc.der, tc.remote, tc.at)
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if err == nil && (mc.Peer != p || mc.Name != "alice" || mc.Role != RoleStudent || mc.NetworkID != ca.NetworkID()) {
					t.Errorf("decoded %+v", mc)
				}
				if err == nil {
					mc.Name = "mallory" // the caller's copy, not what v remembers
				}
			})
		}
	}
}

// BenchmarkVerify: a member certificate checked for the first time, and
// one checked before (a reconnecting member, its directory entry).
func BenchmarkVerify(b *testing.B) {
	ca := newCA(b)
	p := randomPeer(b)
	mc, err := ca.Issue(IssueRequest{Peer: p, Name: "alice", Role: RoleStudent, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	for _, seen := range []bool{false, true} {
		b.Run(map[bool]string{false: "first", true: "seen"}[seen], func(b *testing.B) {
			v, _ := NewVerifier(ca.CertDER(), nil)
			for b.Loop() {
				if !seen {
					v.seen = verifiedCerts{}
				}
				if _, err := v.Verify(mc.DER, p, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestIssueFields(t *testing.T) {
	ca := newCA(t)
	p := randomPeer(t)
	now := time.Now()
	mc, err := ca.Issue(IssueRequest{Peer: p, Name: "r042", Role: RoleSeeder, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := mc.NotAfter.Sub(now); got < DefaultCertTTL-time.Second || got > DefaultCertTTL+time.Second {
		t.Errorf("lifetime %v, want %v", got, DefaultCertTTL)
	}
	if mc.Serial.BitLen() < 100 {
		t.Errorf("serial %x looks short of 128 random bits", mc.Serial)
	}
	if u := mc.x509.URIs[0].String(); u != "p2pshare:"+ca.NetworkID()+":peer:"+p.String() {
		t.Errorf("SAN %s", u)
	}
	rsa, _, err := crypto.GenerateRSAKeyPair(2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := peer.IDFromPrivateKey(rsa)
	if _, err := ca.Issue(IssueRequest{Peer: rp, Name: "x", Role: RoleStudent, Now: now}); err == nil {
		t.Error("issued a certificate to an RSA peer ID")
	}
	for _, bad := range []string{"", " alice", "a\nb", string(make([]byte, 65))} {
		if _, err := ca.Issue(IssueRequest{Peer: p, Name: bad, Role: RoleStudent, Now: now}); !errors.Is(err, ErrMalformed) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
}
