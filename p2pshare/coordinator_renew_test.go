package p2pshare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// coordCert is the coordinator certificate s admits under, or nil if it
// holds the root.
func coordCert(t *testing.T, s *Swarm) *membership.CoordinatorCert {
	t.Helper()
	der := s.net.boot.CA().Coordinator()
	if der == nil {
		return nil
	}
	cc, err := membership.ParseCoordinatorCert(der)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// ownIssuer is the coordinator certificate s's own member certificate was
// signed under (nil: the root's).
func ownIssuer(s *Swarm) []byte { return s.net.m.Own().IssuedBy() }

// loggedSerial is the serial of p's coordinator certificate as s's log of
// the group has it.
func loggedSerial(s *Swarm, p PeerID) string {
	for _, c := range s.net.group.Coordinators() {
		if c.Peer == p {
			return c.Serial
		}
	}
	return ""
}

// TestCoordinatorRenewsItsCertificate: with coordinator certificates of
// 30 seconds, the co-coordinator B renews its own from the root before it
// ends, and the renewal is in the group's log with its new serial; a
// student admitted through B renews under B's new certificate and is a
// member still once B's first certificate has ended, and B admits a
// newcomer after it.
func TestCoordinatorRenewsItsCertificate(t *testing.T) {
	const ttl = 30 * time.Second
	a := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.Coordinators = []string{"ta-b"}; c.coordTTL = ttl })
	b := testNode(t, a, func(c *Config) { c.Name = "ta-b"; c.Coordinator = true })
	first := coordCert(t, b)
	if first == nil {
		t.Fatal("B admits under no coordinator certificate")
	}
	if got := loggedSerial(a, b.ID()); got != fmt.Sprintf("%x", first.Serial) {
		t.Fatalf("the group's log names B's certificate %q, B holds %x", got, first.Serial)
	}
	s1 := testNode(t, nil, func(c *Config) { c.Name = "s1"; c.Invite = inviteAt(t, a, b) })
	if !bytes.Equal(ownIssuer(s1), first.DER) {
		t.Fatal("s1, admitted through B, holds a certificate not signed under B's")
	}
	if s1.net.m.Own().NotAfter.After(first.NotAfter) {
		t.Fatalf("s1's certificate ends at %v, after B's coordinator certificate (%v)", s1.net.m.Own().NotAfter, first.NotAfter)
	}

	waitUntil(t, 2*ttl, "B to renew its coordinator certificate", func() bool {
		cc := coordCert(t, b)
		return cc.Serial.Cmp(first.Serial) != 0
	})
	renewed := coordCert(t, b)
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("B's renewed certificate ends at %v, not after its first (%v)", renewed.NotAfter, first.NotAfter)
	}
	serial := fmt.Sprintf("%x", renewed.Serial)
	waitUntil(t, 20*time.Second, "the group's log to name B's new serial at A and B", func() bool {
		return loggedSerial(a, b.ID()) == serial && loggedSerial(b, b.ID()) == serial
	})
	waitUntil(t, 2*ttl, "s1 to renew under B's new certificate", func() bool {
		return !bytes.Equal(ownIssuer(s1), first.DER)
	})
	waitUntil(t, 2*ttl, "B's first certificate to end", func() bool { return time.Now().After(first.NotAfter) })
	if !b.IsMember(s1.ID()) || !s1.IsMember(b.ID()) {
		t.Errorf("past B's first certificate's end, s1 and B members of each other: %v, %v", b.IsMember(s1.ID()), s1.IsMember(b.ID()))
	}
	if own := s1.net.m.Own(); !own.NotAfter.After(first.NotAfter) {
		t.Errorf("s1's certificate ends at %v, no later than B's first coordinator certificate", own.NotAfter)
	}
	s2 := testNode(t, nil, func(c *Config) { c.Name = "s2"; c.Invite = inviteAt(t, a, b) })
	if got := ownIssuer(s2); got == nil || bytes.Equal(got, first.DER) {
		t.Errorf("s2, admitted through B past its first certificate's end, holds a certificate under it")
	}
	if !b.IsMember(s2.ID()) {
		t.Error("s2 is no member at B")
	}
}

// TestMemberRenewDue: the root's member certificates renew once
// renewBefore is left; a coordinator's, which end with the coordinator's
// certificate, once a third of their life is left.
func TestMemberRenewDue(t *testing.T) {
	now := time.Now()
	root, err := membership.LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	k := newTestKey(t)
	cc, err := root.IssueCoordinator(membership.IssueRequest{Peer: peerOfKey(t, k), Name: "ta", Now: now, TTL: 6 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	coordCA, err := membership.NewCoordinatorCA(root.CertDER(), cc.DER, k, now)
	if err != nil {
		t.Fatal(err)
	}
	member := peerOfKey(t, newTestKey(t))
	issue := func(ca *membership.CA, ttl time.Duration) *membership.MemberCert {
		mc, err := ca.Issue(membership.IssueRequest{Peer: member, Name: "s1", Role: membership.RoleStudent, Now: now, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}
	byRoot, byCoord := issue(root, membership.DefaultCertTTL), issue(coordCA, 0)
	day := 24 * time.Hour
	cases := []struct {
		what string
		mc   *membership.MemberCert
		at   time.Duration // after issue
		due  bool
	}{
		{"the root's, 19 days in", byRoot, 19 * day, false},
		{"the root's, 21 days in", byRoot, 21 * day, true},
		{"a coordinator's of 6 days, just issued", byCoord, 0, false},
		{"a coordinator's of 6 days, 3.9 days in", byCoord, 39 * day / 10, false},
		{"a coordinator's of 6 days, 4.1 days in", byCoord, 41 * day / 10, true},
	}
	for _, tc := range cases {
		if got := memberRenewDue(tc.mc, now.Add(tc.at)); got != tc.due {
			t.Errorf("%s: due %v, want %v", tc.what, got, tc.due)
		}
	}
	for _, tc := range []struct {
		life, want time.Duration
	}{{30 * day, 12 * time.Hour}, {6 * day, 12 * time.Hour}, {2 * day, 4 * time.Hour}, {30 * time.Second, 2500 * time.Millisecond}, {time.Second, time.Second}} {
		if got := memberRenewCheck(tc.life); got != tc.want {
			t.Errorf("a certificate of %v is checked every %v, want %v", tc.life, got, tc.want)
		}
	}
}

// TestCoordRenewAt: a coordinator certificate renews two thirds into its
// life, give or take a twelfth, and retries after an eighth of what is
// left, within a second and an hour.
func TestCoordRenewAt(t *testing.T) {
	issued := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	nb, na := issued.Add(-membership.ClockSkew), issued.Add(6*24*time.Hour)
	for _, tc := range []struct {
		u    float64
		want time.Time
	}{{0.5, issued.Add(4 * 24 * time.Hour)}, {0, issued.Add(4*24*time.Hour - 12*time.Hour)}, {1, issued.Add(4*24*time.Hour + 12*time.Hour)}} {
		if got := coordRenewAt(nb, na, tc.u); !got.Equal(tc.want) {
			t.Errorf("u=%v: renews at %v, want %v", tc.u, got, tc.want)
		}
	}
	for _, tc := range []struct {
		at    time.Duration
		early bool
	}{{0, false}, {47 * time.Hour, false}, {48 * time.Hour, true}, {5 * 24 * time.Hour, true}} {
		if got := coordRenewEarly(nb, na, issued.Add(tc.at)); got != tc.early {
			t.Errorf("%v into a certificate of 6 days: renewed early when the root is back %v, want %v", tc.at, got, tc.early)
		}
	}
	for _, tc := range []struct{ left, want time.Duration }{
		{48 * time.Hour, time.Hour}, {4 * time.Second, time.Second}, {40 * time.Second, 5 * time.Second}, {-time.Minute, time.Hour},
	} {
		if got := coordRetryAfter(tc.left); got != tc.want {
			t.Errorf("%v left: retries after %v, want %v", tc.left, got, tc.want)
		}
	}
}

// renewErr renews s's coordinator certificate and returns the error.
func renewErr(s *Swarm) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.renewCoordinator(ctx)
}

// saysEnd checks that err names the end of cc.
func saysEnd(t *testing.T, what string, err error, cc *membership.CoordinatorCert, also string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "ends at "+stamp(cc.NotAfter)) || !strings.Contains(err.Error(), also) {
		t.Errorf("%s: got %v, want an error naming the end %s and saying %q", what, err, stamp(cc.NotAfter), also)
	}
}

func newTestKey(t *testing.T) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func peerOfKey(t *testing.T, k crypto.PrivKey) PeerID {
	t.Helper()
	p, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// inviteAt is an invite the bootstrap a makes that admits at coordinator
// co alone, once co's log has its token.
func inviteAt(t *testing.T, a, co *Swarm) string {
	t.Helper()
	s, err := a.Invite(InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := membership.ParseInvite(s)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the coordinator's log to hold the invite's token", func() bool {
		_, ok := co.net.group.Registry().Token(inv.TokenIDString())
		return ok
	})
	inv.Bootstrap, inv.Coordinators = peer.AddrInfo{ID: co.ID(), Addrs: loopbackOf(co)}, nil
	return inv.String()
}

// loopbackOf are s's 127.0.0.1 addresses.
func loopbackOf(s *Swarm) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range s.h.Addrs() {
		if v, err := a.ValueForProtocol(ma.P_IP4); err == nil && v == "127.0.0.1" {
			out = append(out, a)
		}
	}
	return out
}

// TestRootKeyOfflineAdmissionsGoOn: the bootstrap A of a group of three
// writes the root key out and removes it from its DataDir; it admits
// under a coordinator certificate of its own from then on. With A
// stopped, coordinator B admits a newcomer with A's invite; B's renewal
// fails with an error naming the root and the date its certificate ends,
// and B goes on admitting as before. A started again without the key
// admits under its coordinator certificate and says the key is offline;
// started with the key from its file, it renews B.
func TestRootKeyOfflineAdmissionsGoOn(t *testing.T) {
	aDir := t.TempDir()
	aCfg := func(c *Config) { c.Name = "teacher"; c.DataDir = aDir; c.Coordinators = []string{"ta-b", "ta-c"} }
	a := testNode(t, nil, aCfg)
	b := testNode(t, a, func(c *Config) { c.Name = "ta-b"; c.Coordinator = true })
	co := testNode(t, a, func(c *Config) { c.Name = "ta-c"; c.Coordinator = true })
	key := filepath.Join(t.TempDir(), "usb", "root.key")
	if err := a.ExportRootKey(key); err == nil {
		t.Fatal("the root key was written into a folder that does not exist")
	}
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.ExportRootKey(key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(aDir, networkDirName, "ca.key")); err == nil {
		t.Fatal("the root key is still in A's DataDir")
	}
	if err := a.ExportRootKey(key); err == nil || !strings.Contains(err.Error(), "root key is offline") {
		t.Errorf("exporting the root key again: %v", err)
	}
	aCert := coordCert(t, a)
	if aCert == nil {
		t.Fatal("A, its root key gone, admits under no coordinator certificate")
	}
	s1 := testNode(t, a, func(c *Config) { c.Name = "s1" })
	if !bytes.Equal(ownIssuer(s1), aCert.DER) {
		t.Error("s1, admitted by A with the root key gone, holds a certificate not signed under A's coordinator certificate")
	}
	inv, err := a.Invite(InviteOptions{Uses: 3})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "B's log to hold A's invite", func() bool {
		i, _ := membership.ParseInvite(inv)
		_, ok := b.net.group.Registry().Token(i.TokenIDString())
		return ok
	})
	a.Close()

	viaB := func(name string) (*Swarm, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := New(ctx, Config{Name: name, ListenAddrs: loopback(), Invite: inv, BootstrapPeers: []peer.AddrInfo{{ID: b.ID(), Addrs: loopbackOf(b)}}, JoinTimeout: 20 * time.Second})
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	if _, err := viaB("s2"); err != nil {
		t.Fatalf("s2 with A's invite, A stopped and the root key offline: %v", err)
	}
	bCert := coordCert(t, b)
	saysEnd(t, "B's renewal with A stopped", renewErr(b), bCert, "bring the root key back")
	if cc := coordCert(t, b); cc.Serial.Cmp(bCert.Serial) != 0 {
		t.Fatal("B's certificate changed on a failed renewal")
	}
	if _, err := viaB("s3"); err != nil {
		t.Fatalf("s3 through B after its failed renewal: %v", err)
	}

	// A again, without its key: a coordinator like the others.
	a2 := testNode(t, nil, aCfg)
	knows(b, a2)
	knows(co, a2)
	if cc := coordCert(t, a2); cc == nil || cc.Serial.Cmp(aCert.Serial) != 0 {
		t.Fatal("A started without the root key does not admit under its coordinator certificate")
	}
	saysEnd(t, "A's own renewal with the root key offline", renewErr(a2), aCert, "root key was written to "+key)
	saysEnd(t, "B's renewal at A, the root key offline", renewErr(b), bCert, "root key is offline at the bootstrap")
	// An invite A prints, a follower now, admits at A at once.
	testNode(t, a2, func(c *Config) { c.Name = "s4" })
	a2.Close()

	// A with its key brought back: B is renewed.
	a3 := testNode(t, nil, func(c *Config) { aCfg(c); c.RootKeyFile = key })
	knows(b, a3)
	knows(co, a3)
	if coordCert(t, a3) != nil {
		t.Fatal("A started with its root key does not sign with it")
	}
	// It renews its own coordinator certificate, to admit under when it
	// runs without the key again.
	waitUntil(t, time.Minute, "A to renew its own coordinator certificate with the key back", func() bool {
		der, err := os.ReadFile(filepath.Join(aDir, networkDirName, coordCertName))
		return err == nil && !bytes.Equal(der, aCert.DER)
	})
	if err := renewErr(b); err != nil {
		t.Fatalf("B's renewal with the root key back: %v", err)
	}
	if cc := coordCert(t, b); cc.Serial.Cmp(bCert.Serial) == 0 {
		t.Error("B's renewal with the root key back left its certificate as it was")
	}
	if _, err := os.Stat(filepath.Join(aDir, networkDirName, "ca.key")); err == nil {
		t.Error("the root key brought back for a run was copied into A's DataDir")
	}
}
