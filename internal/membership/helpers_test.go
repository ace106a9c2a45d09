package membership

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	lphost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/host"
)

// waitBound bounds every wait on events in these tests.
const waitBound = 10 * time.Second

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func loopback() []ma.Multiaddr { return []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")} }

// plainHost is a host with no membership: an outsider, or a newcomer
// before it joins.
func plainHost(t testing.TB, k crypto.PrivKey) lphost.Host {
	t.Helper()
	h, err := host.New(host.Options{Key: k, ListenAddrs: loopback(), MaxPeers: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// gatedHost is a host with a connection gater, as a member's host is,
// sized like a real node's (host.New's defaults), so a test class that
// connects at once is not cut off by libp2p's stock limits.
func gatedHost(t testing.TB, k crypto.PrivKey, g connmgr.ConnectionGater) lphost.Host {
	t.Helper()
	h, err := host.New(host.Options{Key: k, ListenAddrs: loopback(), Gater: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func info(h lphost.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// events records what a node's Membership and host report, and wakes
// waiters on every change.
type events struct {
	mu      sync.Mutex
	admits  map[peer.ID]int
	drops   map[peer.ID]error
	crl     int64
	changed chan struct{}
}

func newEvents() *events {
	return &events{admits: map[peer.ID]int{}, drops: map[peer.ID]error{}, changed: make(chan struct{})}
}

func (e *events) bump() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *events) admit(p peer.ID) { e.mu.Lock(); e.admits[p]++; e.bump(); e.mu.Unlock() }
func (e *events) drop(p peer.ID, err error) {
	e.mu.Lock()
	e.drops[p] = err
	e.bump()
	e.mu.Unlock()
}
func (e *events) onCRL(n int64) { e.mu.Lock(); e.crl = n; e.bump(); e.mu.Unlock() }
func (e *events) touch()        { e.mu.Lock(); e.bump(); e.mu.Unlock() }

// until waits for cond, re-checking on every event, for at most waitBound.
func (e *events) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", waitBound, what)
		}
	}
}

func (e *events) dropped(p peer.ID) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.drops[p]
}

// reset forgets p's drop, to wait for the next one.
func (e *events) reset(p peer.ID) { e.mu.Lock(); delete(e.drops, p); e.mu.Unlock() }

func (e *events) crlNumber() int64 { e.mu.Lock(); defer e.mu.Unlock(); return e.crl }

// node is one member: key, Membership, gated host, events.
type node struct {
	name string
	key  crypto.PrivKey
	id   peer.ID
	dir  string
	m    *Membership
	h    lphost.Host
	ev   *events
}

// newNode builds a member node from credentials, the way the integrator
// will: Membership first, then the host with its gater, then Attach.
func newNode(t testing.TB, name string, k crypto.PrivKey, c Credentials, mutate func(*Config)) *node {
	t.Helper()
	n := &node{name: name, key: k, dir: t.TempDir(), ev: newEvents()}
	n.id, _ = peer.IDFromPrivateKey(k)
	// A short exchange deadline, so the drops the tests wait for come
	// well within waitBound.
	cfg := Config{CA: c.CA, Cert: c.Cert, Self: n.id, Dir: n.dir, OnAdmit: n.ev.admit, OnDrop: n.ev.drop, OnCRL: n.ev.onCRL, Deadline: 2 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(c.CRL) > 0 {
		if err := m.ApplyCRL(c.CRL); err != nil {
			t.Fatal(err)
		}
	}
	n.m = m
	n.h = gatedHost(t, k, m.Gater())
	n.h.Network().Notify(&network.NotifyBundle{
		ConnectedF:    func(network.Network, network.Conn) { n.ev.touch() },
		DisconnectedF: func(network.Network, network.Conn) { n.ev.touch() },
	})
	m.Attach(n.h)
	t.Cleanup(func() { _ = m.Close() })
	return n
}

func (n *node) connected(p peer.ID) bool {
	return n.h.Network().Connectedness(p) == network.Connected
}

// clock is an adjustable time source for the bootstrap's token checks.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// testNet is a bootstrap node and helpers to grow a network around it.
type testNet struct {
	t     testing.TB
	dir   string
	clock *clock
	boot  *Bootstrap
	bn    *node         // the bootstrap's own member node
	node  func(*Config) // if set, applied to bn's Config
}

func newTestNet(t testing.TB, mutate func(*BootstrapConfig)) *testNet {
	t.Helper()
	tn := &testNet{t: t, dir: t.TempDir(), clock: &clock{}}
	tn.start(mutate)
	return tn
}

// start opens the bootstrap in tn.dir and brings its node up; calling it
// again after stop is a restart.
func (tn *testNet) start(mutate func(*BootstrapConfig)) {
	t := tn.t
	cfg := BootstrapConfig{Dir: tn.dir, Now: tn.clock.Now, PeerRate: 1000, PeerBurst: 1000, TotalRate: 1000}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := OpenBootstrap(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var k crypto.PrivKey
	if tn.bn != nil {
		k = tn.bn.key
	} else {
		k = newKey(t)
	}
	self, _ := peer.IDFromPrivateKey(k)
	cert, err := b.SelfCert(self, "teacher", RoleTeacher)
	if err != nil {
		t.Fatal(err)
	}
	tn.boot = b
	tn.bn = newNode(t, "teacher", k, Credentials{CA: b.CA().CertDER(), Cert: cert}, func(c *Config) {
		c.Dir = tn.dir
		if tn.node != nil {
			tn.node(c)
		}
	})
	if err := b.Attach(tn.bn.h, tn.bn.m); err != nil {
		t.Fatal(err)
	}
}

func (tn *testNet) stop() {
	tn.boot.Close()
	_ = tn.bn.m.Close()
	_ = tn.bn.h.Close()
}

func (tn *testNet) invite(o InviteOptions) Invite {
	tn.t.Helper()
	inv, err := tn.boot.NewInvite(o)
	if err != nil {
		tn.t.Fatal(err)
	}
	return inv
}

// joinWith runs Join for key k on a plain host that is closed afterwards.
func joinWith(t testing.TB, k crypto.PrivKey, inv Invite, name string, role Role) (Credentials, error) {
	t.Helper()
	h := plainHost(t, k)
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	return Join(ctx, h, inv, JoinRequest{Name: name, Role: role})
}

// member joins a new student through a fresh one-use invite and brings its
// node up.
func (tn *testNet) member(name string) *node {
	tn.t.Helper()
	return tn.memberWith(name, nil)
}

// memberWith is member with its Config changed by mutate.
func (tn *testNet) memberWith(name string, mutate func(*Config)) *node {
	tn.t.Helper()
	k := newKey(tn.t)
	c, err := joinWith(tn.t, k, tn.invite(InviteOptions{}), name, RoleStudent)
	if err != nil {
		tn.t.Fatalf("join %s: %v", name, err)
	}
	return newNode(tn.t, name, k, c, mutate)
}

// link connects a to b and waits until each admits the other.
func link(t testing.TB, a, b *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := a.h.Connect(ctx, info(b.h)); err != nil {
		t.Fatalf("%s → %s: %v", a.name, b.name, err)
	}
	a.ev.until(t, fmt.Sprintf("%s to admit %s", a.name, b.name), func() bool { return a.m.IsMember(b.id) })
	b.ev.until(t, fmt.Sprintf("%s to admit %s", b.name, a.name), func() bool { return b.m.IsMember(a.id) })
}

// wantRefused checks an admission error is a refusal containing substr.
func wantRefused(t testing.TB, err error, substr string) {
	t.Helper()
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want a refusal containing %q", err, substr)
	}
	if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(substr)) {
		t.Fatalf("refusal %q does not say %q", err, substr)
	}
}

func peerOf(t testing.TB, k crypto.PrivKey) peer.ID {
	t.Helper()
	p, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
