package membership

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// coordinatorCA makes a coordinator's CA under root for a fresh key.
func coordinatorCA(t *testing.T, root *CA, name string, now time.Time, ttl time.Duration) (*CA, *CoordinatorCert, crypto.PrivKey) {
	t.Helper()
	k := newKey(t)
	cc, err := root.IssueCoordinator(IssueRequest{Peer: peerOf(t, k), Name: name, Now: now, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := NewCoordinatorCA(root.CertDER(), cc.DER, k, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca, cc, k
}

// TestCoordinatorIssuedCertificates: a member certificate that an
// appointed coordinator signed verifies against the root alone, and is
// refused once the coordinator's certificate has lapsed or is revoked, or
// when the "coordinator" is not one the root made.
func TestCoordinatorIssuedCertificates(t *testing.T) {
	now := time.Now()
	root, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	ca, cc, _ := coordinatorCA(t, root, "lab server", now, 24*time.Hour)
	foreign, _, _ := coordinatorCA(t, other, "elsewhere", now, 24*time.Hour)
	if cc.NetworkID != root.NetworkID() || ca.NetworkID() != root.NetworkID() {
		t.Fatalf("the coordinator's network is %s (CA %s), want the root's %s", cc.NetworkID, ca.NetworkID(), root.NetworkID())
	}
	sk := newKey(t)
	s := peerOf(t, sk)
	issue := func(by *CA) []byte {
		mc, err := by.Issue(IssueRequest{Peer: s, Name: "s1", Role: RoleStudent, Now: now, TTL: 30 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return mc.DER
	}
	byCoord, byForeign := issue(ca), issue(foreign)

	// A member's certificate used as if it were a coordinator's: signed by
	// the member's key, carrying the member's certificate.
	mk := newKey(t)
	mcert, err := root.Issue(IssueRequest{Peer: peerOf(t, mk), Name: "m", Role: RoleStudent, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	forged := forgeUnder(t, mcert.x509, mk, s, now)
	// Signed by the root, naming the coordinator as its signer.
	misnamed := forge(t, root, s, func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: oidIssuedBy, Value: cc.DER}}
	})

	revokedSerial := func(serial *big.Int) func(*big.Int, peer.ID) bool {
		return func(x *big.Int, _ peer.ID) bool { return x.Cmp(serial) == 0 }
	}
	cases := []struct {
		what    string
		der     []byte
		at      time.Time
		revoked func(*big.Int, peer.ID) bool
		want    error
		says    string
	}{
		{"issued by an appointed coordinator", byCoord, now, nil, nil, ""},
		{"after the coordinator's certificate lapsed", byCoord, now.Add(25 * time.Hour), nil, ErrExpired, `coordinator certificate of "lab server"`},
		{"once the coordinator's certificate is revoked", byCoord, now, revokedSerial(cc.Serial), ErrRevoked, `coordinator "lab server"`},
		{"issued by another network's coordinator", byForeign, now, nil, ErrWrongCA, "is for network"},
		{"signed by a member posing as a coordinator", forged, now, nil, ErrMalformed, "is not a coordinator's"},
		{"signed by the root, naming a coordinator", misnamed, now, nil, ErrWrongCA, "is not signed by"},
	}
	for _, tc := range cases {
		v, err := NewVerifier(root.CertDER(), tc.revoked)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(tc.der, s, tc.at)
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.what, err)
		case tc.want != nil && (!errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%s: got %v, want %v saying %q", tc.what, err, tc.want, tc.says)
		}
	}

	if mc, err := ParseMemberCert(byCoord); err != nil || !mc.NotAfter.Equal(cc.NotAfter) {
		t.Errorf("a member certificate asked for 30 days under a coordinator's of 24 hours ends %v, want with the coordinator's, %v (%v)", mc.NotAfter, cc.NotAfter, err)
	}
	if _, err := ca.IssueCoordinator(IssueRequest{Peer: s, Name: "x", Now: now}); err == nil || !strings.Contains(err.Error(), "only the network's root") {
		t.Errorf("a coordinator appointed another: %v", err)
	}
	if _, err := NewCoordinatorCA(root.CertDER(), cc.DER, newKey(t), now); err == nil || !strings.Contains(err.Error(), "not for this key") {
		t.Errorf("a coordinator CA with another key: %v", err)
	}
	if _, err := NewCoordinatorCA(other.CertDER(), cc.DER, newKey(t), now); !errors.Is(err, ErrWrongCA) {
		t.Errorf("a coordinator CA under another root: got %v, want ErrWrongCA", err)
	}
}

// forgeUnder signs a member certificate for p with the key k of the
// certificate parent, carrying parent as its coordinator's.
func forgeUnder(t *testing.T, parent *x509.Certificate, k crypto.PrivKey, p peer.ID, now time.Time) []byte {
	t.Helper()
	std, err := crypto.PrivKeyToStdKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := peerKey(p)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "s1", OrganizationalUnit: []string{"student"}},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		URIs:            parent.URIs[:1],
		ExtraExtensions: []pkix.Extension{{Id: oidIssuedBy, Value: parent.Raw}},
	}
	tmpl.URIs = []*url.URL{sanURI(strings.SplitN(parent.URIs[0].Opaque, ":", 2)[0], p)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, ed25519.PublicKey(pub), *std.(*ed25519.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCoordinatorIssuedMemberIsAdmitted: over real hosts, a student whose
// certificate a coordinator signed and a member the root signed count each
// other members, each holding only the root.
func TestCoordinatorIssuedMemberIsAdmitted(t *testing.T) {
	tn := newTestNet(t, nil)
	ca, _, _ := coordinatorCA(t, tn.boot.CA(), "ta", time.Now(), time.Hour)
	sk := newKey(t)
	mc, err := ca.Issue(IssueRequest{Peer: peerOf(t, sk), Name: "s-coord", Role: RoleStudent, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s := newNode(t, "s-coord", sk, Credentials{CA: tn.boot.CA().CertDER(), Cert: mc.DER}, nil)
	m := tn.member("m-root")
	link(t, s, m)
	link(t, s, tn.bn)
}

// FuzzParseCoordinatorCert: a coordinator certificate that parses names
// the peer its key derives, and parses again from its own bytes.
func FuzzParseCoordinatorCert(f *testing.F) {
	root, err := LoadOrCreateCA(f.TempDir(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	k, _, _ := crypto.GenerateEd25519Key(nil)
	p, _ := peer.IDFromPrivateKey(k)
	cc, err := root.IssueCoordinator(IssueRequest{Peer: p, Name: "ta", Now: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cc.DER)
	f.Add(root.CertDER())
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCoordinatorCert(in)
		if err != nil {
			return
		}
		again, err := ParseCoordinatorCert(c.DER)
		if err != nil || again.Peer != c.Peer || again.Name != c.Name {
			t.Fatalf("re-parsing an accepted coordinator certificate: %v", err)
		}
	})
}

// TestCoordinatorChallenge: a newcomer accepts a coordinator's challenge
// only if the coordinator's certificate is the pinned root's, for the peer
// it is talking to, and its key signed this session.
func TestCoordinatorChallenge(t *testing.T) {
	now := time.Now()
	root, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	ca, cc, _ := coordinatorCA(t, root, "ta", now, time.Hour)
	otherCA, _, _ := coordinatorCA(t, root, "tb", now, time.Hour)
	foreign, _, _ := coordinatorCA(t, other, "tc", now, time.Hour)
	newcomer := randomPeer(t)
	var nonce [32]byte
	challenge := func(by *CA, self peer.ID) serverMsg {
		b := &Bootstrap{}
		b.ca.Store(by)
		return b.challenge(nonce, self, newcomer)
	}
	good := challenge(ca, cc.Peer)
	if good.Kind != kindCoordChallenge {
		t.Fatalf("a coordinator's challenge is of kind %q", good.Kind)
	}
	// The wire form carries the coordinator's certificate.
	if back, err := decodeServerMsg(good.encode()); err != nil || !bytes.Equal(back.Coord, cc.DER) {
		t.Fatalf("a coordinator's challenge does not survive its encoding: %v", err)
	}
	wrongSig := good
	wrongSig.Sig[0] ^= 1
	cases := []struct {
		what string
		m    serverMsg
		from peer.ID
		pin  [32]byte
		want error
	}{
		{"from the coordinator", good, cc.Peer, root.Fingerprint(), nil},
		{"from another peer showing its certificate", good, randomPeer(t), root.Fingerprint(), ErrPeerMismatch},
		{"signed by another coordinator's key", challenge(otherCA, cc.Peer), cc.Peer, root.Fingerprint(), ErrPeerMismatch},
		{"with a bad signature", wrongSig, cc.Peer, root.Fingerprint(), ErrBadChallenge},
		{"of another network", challenge(foreign, cc.Peer), cc.Peer, root.Fingerprint(), ErrWrongCA},
	}
	for _, tc := range cases {
		_, err := checkChallenge(tc.m, tc.pin, tc.from, newcomer)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("a challenge %s: got %v, want %v", tc.what, err, tc.want)
		}
	}
}

// TestCoordinatorCertClockSkew: a member whose clock is behind the root's
// by less than ClockSkew takes a coordinator's certificate signed a moment
// ago, and the member certificates under it, as it takes the root's own.
func TestCoordinatorCertClockSkew(t *testing.T) {
	now := time.Now()
	root, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	ca, cc, _ := coordinatorCA(t, root, "lab server", now, 24*time.Hour)
	sk := newKey(t)
	mc, err := ca.Issue(IssueRequest{Peer: peerOf(t, sk), Name: "s1", Role: RoleStudent, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(root.CertDER(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, behind := range []time.Duration{2 * time.Minute, ClockSkew - time.Minute} {
		if _, err := v.Verify(mc.DER, peerOf(t, sk), now.Add(-behind)); err != nil {
			t.Errorf("a member %v behind the coordinator: %v", behind, err)
		}
	}
	if want := now.Add(-ClockSkew).Truncate(time.Second); cc.NotBefore.After(want) {
		t.Errorf("the coordinator certificate is valid from %v, want from %v (ClockSkew back)", cc.NotBefore, want)
	}
}
