package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/p2pshare/p2pshare/internal/message"
)

// msgConfig gives a test class short republish rounds and three replicas.
func msgConfig(name string) func(*Config) {
	return func(c *Config) {
		c.Name = name
		c.Replicas = 3
		c.Republish = 500 * time.Millisecond
	}
}

// msgClass starts a bootstrap, "teacher", and members with these names
// joined through it.
func msgClass(t *testing.T, names ...string) (*Swarm, []*Swarm) {
	t.Helper()
	boot := testNode(t, nil, msgConfig("teacher"))
	var members []*Swarm
	for _, n := range names {
		members = append(members, testNode(t, boot, msgConfig(n)))
	}
	// Each member's directory entry goes out in the background; a test
	// that writes to a member by name right away must not race it.
	for _, m := range members {
		m.msg.awaitListed()
	}
	return boot, members
}

// seal seals body to the member to, signed with signer's key and carrying
// the certificate of certOf (signer's own, or another's for a forgery).
func seal(t *testing.T, signer, certOf, to *Swarm, body string) []byte {
	t.Helper()
	b, _, err := message.Seal(signer.key, certOf.net.m.Own().DER, to.h.ID(), []byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receive waits for one message on s, failing at the deadline, and
// acknowledges it, as a program that has handled it does.
func receive(t *testing.T, ctx context.Context, s *Swarm) Message {
	t.Helper()
	select {
	case m := <-s.Messages():
		if err := m.Ack(); err != nil {
			t.Fatalf("acknowledging %q: %v", m.Body, err)
		}
		return m
	case <-ctx.Done():
		t.Fatalf("%s received no message: %v", s.ID(), ctx.Err())
		return Message{}
	}
}

// noMessage checks that nothing more arrives on s: it sends s a marker
// message and expects the marker first.
func noMessage(t *testing.T, ctx context.Context, from, s *Swarm) {
	t.Helper()
	if _, err := from.Send(ctx, s.ID().String(), []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ctx, s); string(m.Body) != "marker" {
		t.Fatalf("an unexpected message arrived: %q from %s", m.Body, m.FromName)
	}
}

func TestMessageDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, c := msgClass(t, "alice", "bob")
	alice, bob := c[0], c[1]
	body := []byte("the lab image is ready; start at 9:00")
	r, err := alice.Send(ctx, "Bob", body)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Direct || r.To != bob.ID() {
		t.Fatalf("receipt %+v", r)
	}
	m := receive(t, ctx, bob)
	if !bytes.Equal(m.Body, body) || m.FromName != "alice" || m.From != alice.ID() || m.ID != r.ID {
		t.Fatalf("got %+v", m)
	}
	// By peer ID too, and the limits say what is wrong.
	if _, err := bob.Send(ctx, alice.ID().String(), []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ctx, alice); m.FromName != "bob" {
		t.Fatalf("got %+v", m)
	}
	if _, err := alice.Send(ctx, "bob", make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	if _, err := alice.Send(ctx, "nobody-by-this-name", []byte("x")); err == nil || !strings.Contains(err.Error(), "no member named") {
		t.Fatalf("unknown name: %v", err)
	}
}

// TestMessageTamperedOrForged delivers changed and forged messages straight
// to a member: none is delivered; a replay is delivered once.
func TestMessageTamperedOrForged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, m := msgClass(t, "alice", "bob", "carol")
	alice, bob, carol := m[0], m[1], m[2]
	bobID := bob.h.ID()

	sealed := seal(t, alice, alice, bob, "genuine")
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 0x10
	if err := alice.msg.direct(ctx, bobID, flipped); err == nil {
		t.Fatal("a flipped bit was accepted")
	}
	// Carol's key with Alice's certificate: the signature is Carol's, the
	// certificate claims Alice.
	forged := seal(t, carol, alice, bob, "from alice, honest")
	if err := carol.msg.direct(ctx, bobID, forged); err == nil {
		t.Fatal("a message signed by carol with alice's certificate was accepted")
	}
	// The genuine one, twice: delivered once.
	for range 2 {
		if err := alice.msg.direct(ctx, bobID, sealed); err != nil {
			t.Fatal(err)
		}
	}
	if m := receive(t, ctx, bob); string(m.Body) != "genuine" {
		t.Fatalf("got %q", m.Body)
	}
	noMessage(t, ctx, carol, bob)
}

// TestMessageOffline: Bob is offline; Alice's message is parked on the
// nodes closest to Bob's inbox, which cannot read it; Alice leaves; Bob
// comes back, gets it once, and the parked copies are deleted.
func TestMessageOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, msgConfig("teacher"))
	var class []*Swarm
	for _, n := range []string{"h1", "h2", "h3", "h4"} {
		class = append(class, testNode(t, boot, msgConfig(n)))
	}
	bobDir := t.TempDir()
	bob := testNode(t, boot, func(c *Config) { msgConfig("bob")(c); c.DataDir = bobDir })
	bobID := bob.ID()
	alice := testNode(t, boot, msgConfig("alice"))
	// Alice knows Bob's name from the member directory in the DHT.
	waitUntil(t, 20*time.Second, "bob's directory entry", func() bool {
		_, err := alice.dht.GetValue(ctx, memberKey("bob"))
		return err == nil
	})
	bob.Close()

	secret := []byte("exam room changed to B-204; bring your student card")
	r, err := alice.Send(ctx, "bob", secret)
	if err != nil {
		t.Fatal(err)
	}
	if r.Direct || r.Parked == 0 {
		t.Fatalf("receipt %+v: want parked", r)
	}
	all := append([]*Swarm{boot}, class...)
	holders := 0
	for _, h := range all {
		for _, it := range h.msg.box.Items(bobID) {
			holders++
			if bytes.Contains(it.Sealed, secret[:20]) {
				t.Fatalf("holder %s sees the body", h.ID())
			}
			if _, err := message.Open(h.key, it.Sealed); err == nil {
				t.Fatalf("holder %s opened Bob's message", h.ID())
			}
		}
	}
	t.Logf("parked on %d holders (receipt says %d)", holders, r.Parked)
	alice.Close()
	// A holder leaves abruptly; the republish rounds of the others put the
	// message back on three of the nodes now closest to Bob's inbox.
	var parked []byte
	var live []*Swarm
	left := false
	for _, h := range all {
		if items := h.msg.box.Items(bobID); len(items) > 0 && !left && h != boot {
			parked = items[0].Sealed
			h.Close()
			left = true
			continue
		}
		live = append(live, h)
	}
	if !left {
		t.Fatal("no holder but the bootstrap")
	}
	waitUntil(t, 30*time.Second, "three live holders again", func() bool {
		n := 0
		for _, h := range live {
			n += len(h.msg.box.IDs(bobID))
		}
		return n >= 3
	})
	all = live

	bob2, err := New(ctx, Config{DataDir: bobDir, ListenAddrs: loopback(), BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}, Replicas: 3, Republish: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bob2.Close()
	m := receive(t, ctx, bob2)
	if !bytes.Equal(m.Body, secret) || m.FromName != "alice" {
		t.Fatalf("got %+v", m)
	}
	waitUntil(t, 20*time.Second, "parked copies deleted", func() bool {
		for _, h := range all {
			if len(h.msg.box.IDs(bobID)) > 0 {
				return false
			}
		}
		return true
	})
	// Replays: straight to Bob, and after Bob restarts.
	if err := bob2.msg.accept(parked); err != nil {
		t.Fatal(err)
	}
	noMessage(t, ctx, boot, bob2)
	bob2.Close()
	bob3, err := New(ctx, Config{DataDir: bobDir, ListenAddrs: loopback(), BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob3.Close()
	if err := bob3.msg.accept(parked); err != nil {
		t.Fatal(err)
	}
	noMessage(t, ctx, boot, bob3)
}

// TestMessageFromNonMembers: a revoked member can no longer send, and a
// message it sealed before is refused; one from another network too.
func TestMessageFromNonMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot, m := msgClass(t, "bob", "mallory")
	bob, mallory := m[0], m[1]
	early := seal(t, mallory, mallory, bob, "before")
	if err := boot.Revoke("mallory"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "bob drops mallory", func() bool { return !bob.IsMember(mallory.h.ID()) })
	if _, err := mallory.Send(ctx, bob.ID().String(), []byte("after")); err == nil {
		t.Fatal("a revoked member sent a message")
	}
	if err := bob.msg.accept(early); err == nil {
		t.Fatal("a message sealed by a member revoked since was accepted")
	}
	other := testNode(t, nil, msgConfig("eve")) // another network's CA
	forged := seal(t, other, other, bob, "hi")
	if err := bob.msg.accept(forged); err == nil {
		t.Fatal("a message from another network's member was accepted")
	}
	if _, err := other.Send(ctx, bob.ID().String(), []byte("hi")); err == nil {
		t.Fatal("an outsider sent a message")
	}
	noMessage(t, ctx, boot, bob)
	if len(bob.msg.box.Owners()) != 0 {
		t.Fatal("something was parked")
	}
}

func FuzzDecodeSeen(f *testing.F) {
	f.Add(appendSeen(appendSeen(nil, message.ID{1}, time.Unix(100, 0)), message.ID{1}, time.Unix(0, 0)))
	f.Add([]byte("torn"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeSeen(b)
		if len(got) > len(b)/seenRecord {
			t.Fatalf("%d IDs from %d bytes", len(got), len(b))
		}
		var again []byte
		for id, until := range got {
			again = appendSeen(again, id, until)
		}
		if back := decodeSeen(again); len(back) != len(got) {
			t.Fatalf("re-encoding lost IDs: %d, then %d", len(got), len(back))
		}
	})
}

// TestMessageMetrics: the message and DHT families are there, rise, and
// pass Prometheus's lint.
func TestMessageMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot, m := msgClass(t, "alice", "bob")
	alice, bob := m[0], m[1]
	if _, err := alice.Send(ctx, "bob", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	receive(t, ctx, bob)
	problems, err := testutil.CollectAndLint(bob.Metrics())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	want := "# HELP p2pshare_messages_delivered_total Private messages delivered to this node, each once.\n# TYPE p2pshare_messages_delivered_total counter\np2pshare_messages_delivered_total 1\n"
	if err := testutil.CollectAndCompare(bob.Metrics(), strings.NewReader(want), "p2pshare_messages_delivered_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(registry(t, boot.Metrics()), "p2pshare_dht_records_held"); err != nil || n != 1 {
		t.Fatalf("p2pshare_dht_records_held: %d series, %v", n, err)
	}
}

func registry(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	r := prometheus.NewRegistry()
	if err := r.Register(c); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMessageParkedForAnOnlineMember parks a message for a member that is
// online, as a sender that could not reach it would, with the default
// republish interval: between its full collections (every 10 minutes) the
// member asks only the inbox holders closest to it, every half minute,
// and the message arrives through them.
func TestMessageParkedForAnOnlineMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), collectEvery+30*time.Second)
	defer cancel()
	cfg := func(name string) func(*Config) {
		return func(c *Config) { c.Name = name; c.Replicas = 5 }
	}
	boot := testNode(t, nil, cfg("teacher"))
	var members []*Swarm
	for _, n := range []string{"ana", "ben", "cy", "dee", "eve", "fay"} {
		members = append(members, testNode(t, boot, cfg(n)))
	}
	ana, ben := members[0], members[1]
	n, err := ana.msg.park(ctx, ben.h.ID(), ben.net.m.Own().DER, seal(t, ana, ana, ben, "while you were busy"))
	if err != nil || n == 0 {
		t.Fatalf("parking: %d holders, %v", n, err)
	}
	if m := receive(t, ctx, ben); string(m.Body) != "while you were busy" || m.FromName != "ana" {
		t.Fatalf("got %q from %s", m.Body, m.FromName)
	}
}
