package coord

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	lphost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// waitBound bounds every wait on an event in these tests.
const waitBound = 20 * time.Second

// testTiming is Raft's clocks for tests: the defaults, as a class gets
// them, but a proposal that finds no leader gives up sooner.
var testTiming = Timing{Apply: 4 * time.Second}

// cutter is a connection gater that refuses the peers a test cuts off: a
// partition between two sets of real hosts.
type cutter struct {
	mu  sync.Mutex
	cut map[peer.ID]bool
}

func (c *cutter) refused(p peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut[p]
}
func (c *cutter) set(p peer.ID, cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut[p] = cut
}
func (c *cutter) InterceptPeerDial(p peer.ID) bool                 { return !c.refused(p) }
func (c *cutter) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !c.refused(p) }
func (c *cutter) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (c *cutter) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !c.refused(p)
}
func (c *cutter) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

// node is one coordinator of a test group: its key, host, gater and data
// directory survive a Close, so it can come back as itself.
type node struct {
	name string
	key  crypto.PrivKey
	dir  string
	gate *cutter
	h    lphost.Host
	g    *Group
	reg  *membership.Registry
}

func newNode(t testing.TB, name string) *node {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, key: k, dir: filepath.Join(t.TempDir(), name), gate: &cutter{cut: map[peer.ID]bool{}}}
	n.startHost(t)
	return n
}

func (n *node) startHost(t testing.TB) {
	t.Helper()
	h, err := host.New(host.Options{Key: n.key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Gater: n.gate, MaxPeers: 64})
	if err != nil {
		t.Fatal(err)
	}
	n.h = h
	t.Cleanup(func() { _ = h.Close() })
}

func (n *node) id() peer.ID { return n.h.ID() }

// open starts the node's part of the group.
func (n *node) open(t testing.TB, bootstrap bool, known []peer.ID) {
	t.Helper()
	n.reg = membership.NewMemoryRegistry()
	var raftLog *os.File
	if testing.Verbose() {
		raftLog = os.Stderr
	}
	cfg := Config{Host: n.h, Dir: n.dir, Registry: n.reg, Bootstrap: bootstrap, Name: n.name, Known: known, Timing: testTiming}
	if raftLog != nil {
		cfg.RaftLog = raftLog
	}
	g, err := Open(cfg)
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	n.g = g
	t.Cleanup(func() { _ = g.Close() })
}

// stop closes the node's group part and its host: as far as the others
// can tell, it died.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if err := n.g.Close(); err != nil {
		t.Logf("%s: closing: %v", n.name, err)
	}
	_ = n.h.Close()
}

// introduce tells every node every other's addresses.
func introduce(ns ...*node) {
	for _, a := range ns {
		for _, b := range ns {
			if a != b {
				a.h.Peerstore().AddAddrs(b.id(), b.h.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
}

func ids(ns ...*node) []peer.ID {
	var out []peer.ID
	for _, n := range ns {
		out = append(out, n.id())
	}
	return out
}

// group3 is a group of three: a bootstraps it and appoints b and c.
func group3(t testing.TB) (a, b, c *node) {
	t.Helper()
	a, b, c = newNode(t, "a"), newNode(t, "b"), newNode(t, "c")
	introduce(a, b, c)
	a.open(t, true, nil)
	b.open(t, false, ids(a, b, c))
	c.open(t, false, ids(a, b, c))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	for _, n := range []*node{b, c} {
		if err := a.g.Appoint(ctx, n.id(), n.name); err != nil {
			t.Fatalf("appointing %s: %v", n.name, err)
		}
	}
	waitFor(t, "every node to see three voters and three coordinators", func() bool {
		for _, n := range []*node{a, b, c} {
			if len(n.g.Voters()) != 3 || len(n.g.Coordinators()) != 3 {
				return false
			}
		}
		return true
	})
	return a, b, c
}

// waitFor polls cond until it holds, or fails the test after waitBound.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderOf waits until the nodes agree on a leader among them and returns
// it.
func leaderOf(t testing.TB, ns ...*node) *node {
	t.Helper()
	var l *node
	waitFor(t, "a leader the nodes agree on", func() bool {
		l = nil
		for _, n := range ns {
			if n.g.IsLeader() {
				l = n
			}
		}
		if l == nil {
			return false
		}
		for _, n := range ns {
			if n.g.Leader() != l.id() {
				return false
			}
		}
		return true
	})
	return l
}

// converged waits until every node has applied the same entries and
// holds the same registry.
func converged(t testing.TB, ns ...*node) {
	t.Helper()
	last := "nothing checked yet"
	defer func() {
		if t.Failed() {
			t.Logf("last difference: %s", last)
		}
	}()
	waitFor(t, "the nodes' registries to converge", func() bool {
		first, err := ns[0].reg.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns[1:] {
			if n.g.AppliedIndex() != ns[0].g.AppliedIndex() {
				last = fmt.Sprintf("%s applied %d, %s %d", n.name, n.g.AppliedIndex(), ns[0].name, ns[0].g.AppliedIndex())
				return false
			}
			b, err := n.reg.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, first) {
				last = n.name + "'s registry differs from " + ns[0].name + "'s"
				return false
			}
		}
		return true
	})
}

// partition cuts the nodes in side off from the others, both ways, and
// closes their connections.
func partition(side []*node, rest []*node, cut bool) {
	for _, a := range side {
		for _, b := range rest {
			a.gate.set(b.id(), cut)
			b.gate.set(a.id(), cut)
			if cut {
				_ = a.h.Network().ClosePeer(b.id())
				_ = b.h.Network().ClosePeer(a.id())
			}
		}
	}
}

func protocolID(s string) protocol.ID { return protocol.ID(s) }
