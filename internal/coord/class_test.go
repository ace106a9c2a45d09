package coord

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	lphost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// lateGater lets a host be built before its Membership, as a node's is:
// it passes everything outbound, and screens with the Membership's gater
// once set.
type lateGater struct {
	inner atomic.Pointer[connmgr.ConnectionGater]
}

func (g *lateGater) set(in connmgr.ConnectionGater) { g.inner.Store(&in) }
func (g *lateGater) get() connmgr.ConnectionGater {
	if p := g.inner.Load(); p != nil {
		return *p
	}
	return nil
}
func (g *lateGater) InterceptPeerDial(p peer.ID) bool {
	return g.get() == nil || g.get().InterceptPeerDial(p)
}
func (g *lateGater) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	return g.get() == nil || g.get().InterceptAddrDial(p, a)
}
func (g *lateGater) InterceptAccept(a network.ConnMultiaddrs) bool {
	return g.get() == nil || g.get().InterceptAccept(a)
}
func (g *lateGater) InterceptSecured(d network.Direction, p peer.ID, a network.ConnMultiaddrs) bool {
	return g.get() == nil || g.get().InterceptSecured(d, p, a)
}
func (g *lateGater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	if g.get() == nil {
		return true, 0
	}
	return g.get().InterceptUpgraded(c)
}

// classNode is a node of a test class: a member, perhaps a coordinator
// too, perhaps the root bootstrap.
type classNode struct {
	name   string
	key    crypto.PrivKey
	id     peer.ID
	dir    string
	gate   *lateGater
	h      lphost.Host
	m      *membership.Membership
	g      *Group
	b      *membership.Bootstrap
	crls   atomic.Int64
	follow atomic.Pointer[membership.Bootstrap]
	creds  membership.Credentials
}

func newClassNode(t *testing.T, name string) *classNode {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &classNode{name: name, key: k, dir: filepath.Join(t.TempDir(), name), gate: &lateGater{}}
	n.id, _ = peer.IDFromPrivateKey(k)
	if n.h, err = host.New(host.Options{Key: k, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Gater: n.gate, MaxPeers: 64}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.h.Close() })
	return n
}

// member starts the node's Membership with creds.
func (n *classNode) member(t *testing.T, creds membership.Credentials) {
	t.Helper()
	n.creds = creds
	m, err := membership.New(membership.Config{CA: creds.CA, Cert: creds.Cert, Self: n.id, Dir: filepath.Join(n.dir, "member"),
		OnCRL: func(c int64) { n.crls.Store(c) }})
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	n.m = m
	n.gate.set(m.Gater())
	m.Attach(n.h)
	t.Cleanup(func() { _ = m.Close() })
}

// join admits the node with inv, through the coordinator at ai.
func (n *classNode) join(t *testing.T, inv membership.Invite, at *classNode, role membership.Role) error {
	t.Helper()
	inv.Bootstrap = peer.AddrInfo{ID: at.id, Addrs: at.h.Addrs()}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	creds, err := membership.Join(ctx, n.h, inv, membership.JoinRequest{Name: n.name, Role: role})
	if err != nil {
		return err
	}
	n.member(t, creds)
	if len(creds.Bootstrap) > 0 {
		_ = n.m.Introduce(at.id, creds.Bootstrap)
	}
	return nil
}

// coordinator makes n, a member, a coordinator of root's network: the
// root signs its coordinator certificate, the group appoints it, and it
// admits from then on.
func (n *classNode) coordinator(t *testing.T, root, appointer *classNode, known []peer.ID) {
	t.Helper()
	// Revocations committed through another coordinator: this one signs
	// the new CRL too.
	follow := func(a Applied) {
		if b := n.follow.Load(); b != nil && a.Change != nil && a.Change.Op == membership.OpRevoke && a.Err == nil {
			go func() { _ = b.SyncCRL() }()
		}
	}
	g, err := Open(Config{Host: n.h, Dir: filepath.Join(n.dir, "coord"), Known: known, Timing: testTiming, Applied: follow})
	if err != nil {
		t.Fatal(err)
	}
	n.g = g
	t.Cleanup(func() { _ = g.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := appointer.g.Appoint(ctx, n.id, n.name); err != nil {
		t.Fatalf("appointing %s: %v", n.name, err)
	}
	cc, err := root.b.CA().IssueCoordinator(membership.IssueRequest{Peer: n.id, Name: n.name, Now: time.Now(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := membership.NewCoordinatorCA(root.b.CA().CertDER(), cc.DER, n.key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := membership.OpenBootstrap(membership.BootstrapConfig{Dir: filepath.Join(n.dir, "network"), CA: ca, Ledger: g,
		PeerRate: 1000, PeerBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n.b = b
	n.follow.Store(b)
	t.Cleanup(b.Close)
	if err := b.Attach(n.h, n.m); err != nil {
		t.Fatal(err)
	}
}

// TestCoordinatorsAdmitWhenTheBootstrapDies is the issue's scenario over
// real hosts in one process: the bootstrap A and coordinators B and C; s1
// joins through A; A dies; with A's invite, s2 is admitted through B; a
// second s2 and a new s1 are refused through C and B (they know what A
// admitted); revoking s1 at B reaches the members.
func TestCoordinatorsAdmitWhenTheBootstrapDies(t *testing.T) {
	a, b, c := newClassNode(t, "teacher"), newClassNode(t, "ta-b"), newClassNode(t, "ta-c")
	all := []peer.ID{a.id, b.id, c.id}
	// The root bootstrap, whose registry is the group's log from the
	// start.
	g, err := Open(Config{Host: a.h, Dir: filepath.Join(a.dir, "coord"), Bootstrap: true, Name: a.name, Known: all, Timing: testTiming})
	if err != nil {
		t.Fatal(err)
	}
	a.g = g
	t.Cleanup(func() { _ = g.Close() })
	if a.b, err = membership.OpenBootstrap(membership.BootstrapConfig{Dir: filepath.Join(a.dir, "network"), Ledger: g,
		PeerRate: 1000, PeerBurst: 1000}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.b.Close)
	cert, err := a.b.SelfCert(a.id, a.name, membership.RoleTeacher)
	if err != nil {
		t.Fatal(err)
	}
	a.member(t, membership.Credentials{CA: a.b.CA().CertDER(), Cert: cert})
	if err := a.b.Attach(a.h, a.m); err != nil {
		t.Fatal(err)
	}
	staff, err := a.b.NewInvite(membership.InviteOptions{Uses: 2, Role: membership.RoleSeeder})
	if err != nil {
		t.Fatal(err)
	}
	class, err := a.b.NewInvite(membership.InviteOptions{Uses: 30})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*classNode{b, c} {
		if err := n.join(t, staff, a, membership.RoleSeeder); err != nil {
			t.Fatalf("%s joining: %v", n.name, err)
		}
	}
	for _, x := range []*classNode{a, b, c} {
		for _, y := range []*classNode{a, b, c} {
			if x != y {
				x.h.Peerstore().AddAddrs(y.id, y.h.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	b.coordinator(t, a, a, all)
	c.coordinator(t, a, a, all)

	s1 := newClassNode(t, "s1")
	if err := s1.join(t, class, a, membership.RoleStudent); err != nil {
		t.Fatalf("s1 through A: %v", err)
	}
	waitFor(t, "s1's admission to reach B and C", func() bool {
		_, okb := b.g.Registry().Member(s1.id)
		_, okc := c.g.Registry().Member(s1.id)
		return okb && okc
	})

	// A dies.
	_ = a.g.Close()
	a.b.Close()
	_ = a.m.Close()
	_ = a.h.Close()

	s2 := newClassNode(t, "s2")
	if err := s2.join(t, class, b, membership.RoleStudent); err != nil {
		t.Fatalf("s2 through B with A's invite, A dead: %v", err)
	}
	mc, err := membership.ParseMemberCert(s2.creds.Cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("s2 admitted by B, certificate %x (B leads: %v)", mc.Serial, b.g.IsLeader())
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := s2.h.Connect(ctx, peer.AddrInfo{ID: c.id, Addrs: c.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if !c.m.WaitMember(ctx, s2.id) || !s2.m.WaitMember(ctx, c.id) {
		t.Fatal("s2, admitted by coordinator B, and coordinator C do not count each other members")
	}
	for _, tc := range []struct {
		name string
		at   *classNode
		says string
	}{
		{"s2", c, `name "s2" is already held by peer ` + s2.id.String()},
		{"s1", b, `name "s1" is already held by peer ` + s1.id.String()},
	} {
		again := newClassNode(t, tc.name)
		err := again.join(t, class, tc.at, membership.RoleStudent)
		if !errors.Is(err, membership.ErrNameTaken) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("a second %s through %s: got %v, want a refusal saying %s", tc.name, tc.at.name, err, tc.says)
		}
	}

	if err := b.b.Revoke("s1"); err != nil {
		t.Fatalf("revoking s1 at B: %v", err)
	}
	waitFor(t, "the CRL signed at B to reach s2 and C", func() bool { return s2.crls.Load() >= 1 && c.crls.Load() >= 1 })
	waitFor(t, "C to apply s1's revocation, and sign the CRL it hands newcomers", func() bool {
		_, ok := c.g.Registry().Member(s1.id)
		return !ok && c.b.CRL() != nil
	})

	// C dies too: B alone is no majority of three, and a newcomer is told
	// so.
	_ = c.g.Close()
	_ = c.h.Close()
	s3 := newClassNode(t, "s3")
	err = s3.join(t, class, b, membership.RoleStudent)
	if !errors.Is(err, membership.ErrRefused) || !strings.Contains(err.Error(), "needs 2 of them up") {
		t.Errorf("s3 through B with A and C dead: got %v, want a refusal saying 2 of the 3 coordinators are needed", err)
	}
	t.Logf("s3 through B alone: %v", err)
}
