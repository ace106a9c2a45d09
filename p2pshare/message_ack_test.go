package p2pshare

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// take waits for one message on s and leaves it unacknowledged, as a
// program that stops before it has handled it.
func take(t *testing.T, ctx context.Context, s *Swarm) Message {
	t.Helper()
	select {
	case m := <-s.Messages():
		return m
	case <-ctx.Done():
		t.Fatalf("%s received no message: %v", s.ID(), ctx.Err())
		return Message{}
	}
}

// restart starts the member kept in dir again, through boot.
func restart(t *testing.T, ctx context.Context, boot *Swarm, dir string) *Swarm {
	t.Helper()
	s, err := New(ctx, Config{DataDir: dir, ListenAddrs: loopback(), BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}, Replicas: 3, Republish: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMessageKeptUntilAcknowledged: Bob's program takes a message Alice
// handed him directly and stops before it acknowledges it; Alice then
// parks one for him. Bob's next run gets both, acknowledges the first
// and stops; the run after gets the second alone, acknowledges it, and
// its parked copies go.
func TestMessageKeptUntilAcknowledged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, msgConfig("teacher"))
	class := []*Swarm{boot}
	for _, n := range []string{"h1", "h2", "h3"} {
		class = append(class, testNode(t, boot, msgConfig(n)))
	}
	dir := t.TempDir()
	bob := testNode(t, boot, func(c *Config) { msgConfig("bob")(c); c.DataDir = dir })
	alice := testNode(t, boot, msgConfig("alice"))
	class = append(class, alice)
	bobID := bob.ID()
	// Alice hands the first message to Bob directly: she holds a
	// connection to him, rather than finding him through a DHT that a
	// class this young may not yet answer for him (then it is parked).
	if err := alice.h.Connect(ctx, bob.AddrInfo()); err != nil {
		t.Fatal(err)
	}

	if r, err := alice.Send(ctx, bob.ID().String(), []byte("handed over")); err != nil || !r.Direct {
		t.Fatalf("sending to Bob online: %+v, %v", r, err)
	}
	if m := take(t, ctx, bob); string(m.Body) != "handed over" {
		t.Fatalf("got %q", m.Body)
	}
	bob.Close()
	if r, err := alice.Send(ctx, bob.ID().String(), []byte("parked")); err != nil || r.Direct || r.Parked == 0 {
		t.Fatalf("sending to Bob offline: %+v, %v", r, err)
	}

	bob2 := restart(t, ctx, boot, dir)
	got := map[string]Message{}
	for range 2 {
		m := take(t, ctx, bob2)
		got[string(m.Body)] = m
	}
	if len(got) != 2 {
		t.Fatalf("Bob's second run got %v, want both messages once", got)
	}
	if err := got["handed over"].Ack(); err != nil {
		t.Fatal(err)
	}
	bob2.Close()
	if err := got["parked"].Ack(); err == nil {
		t.Fatal("an acknowledgement after Close succeeded")
	}

	bob3 := restart(t, ctx, boot, dir)
	if m := receive(t, ctx, bob3); string(m.Body) != "parked" {
		t.Fatalf("Bob's third run got %q first, want the message he did not acknowledge", m.Body)
	}
	waitUntil(t, 20*time.Second, "the parked copies deleted once acknowledged", func() bool {
		for _, h := range class {
			if len(h.msg.box.IDs(bobID)) > 0 {
				return false
			}
		}
		return true
	})
	noMessage(t, ctx, alice, bob3)
}

// TestAckOnce: a second Ack does nothing; a Message not from Messages
// cannot be acknowledged.
func TestAckOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, c := msgClass(t, "alice", "bob")
	alice, bob := c[0], c[1]
	if _, err := alice.Send(ctx, bob.ID().String(), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	m := receive(t, ctx, bob)
	if err := m.Ack(); err != nil {
		t.Fatalf("a second Ack: %v", err)
	}
	if err := (Message{ID: m.ID, Body: m.Body}).Ack(); err == nil {
		t.Fatal("a Message made by hand was acknowledged")
	}
	if n := bob.msg.delivered.Load(); n != 1 {
		t.Fatalf("%d delivered", n)
	}
}
