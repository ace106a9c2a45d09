package p2pshare

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/message"
)

// testClock is a clock a test moves by hand.
type testClock struct{ off atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// TestParkedReplayAfterSeenExpired: Bob collects a message Alice parked on
// a holder and acknowledges it. A day and more past the message lifetime,
// his record of it expires; the holder, which kept a copy, has another
// member hold it for him again, with a later expiry (the expiry is not
// signed: holders set it when they pass an inbox on). Bob refuses it (it was sent longer ago than messages live),
// and one sent from the future too, rather than deliver either.
func TestParkedReplayAfterSeenExpired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ttl = time.Hour
	boot := testNode(t, nil, parkCfg("teacher"))
	holder, other := testNode(t, boot, parkCfg("h1")), testNode(t, boot, parkCfg("h2"))
	alice := testNode(t, boot, parkCfg("alice"))
	dir := t.TempDir()
	clock := &testClock{}
	bobCfg := func(c *Config) { parkCfg("bob")(c); c.DataDir = dir; c.MessageTTL = ttl; c.now = clock.now }
	bob := testNode(t, boot, bobCfg)
	bobID := bob.h.ID()
	hID := holder.h.ID()

	it := signedItems(t, alice, bob, "replayed", 1, 10)[0]
	if ok, err := holder.msg.box.Put(bobID, it, time.Now()); !ok || err != nil {
		t.Fatalf("parking: %v, %v", ok, err)
	}
	knows(bob, holder)
	collectAll(t, ctx, bob, []peer.ID{hID}, 1)
	waitUntil(t, 20*time.Second, "the holder's copy deleted once acknowledged", func() bool { return len(holder.msg.box.IDs(bobID)) == 0 })
	bob.Close()

	// Past the lifetime and the margin the seen record is kept for.
	clock.advance(ttl + seenMargin + time.Minute)
	bob2, err := New(ctx, Config{DataDir: dir, ListenAddrs: loopback(), BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}, Replicas: 3, MessageTTL: ttl, now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bob2.Close() })
	knows(bob2, other)
	if m, err := message.Open(bob2.key, it.Sealed); err != nil || bob2.msg.seen.has(m.ID) {
		t.Fatalf("the delivered message is still among those seen (%v): the test does not replay past its record", err)
	}
	// The holder replays its copy, and one Alice sealed two hours ahead.
	it.Expiry = time.Now().Add(time.Hour).Truncate(time.Second)
	future := mailbox.Item{Expiry: it.Expiry}
	var ferr error
	future.Sealed, _, ferr = message.Seal(alice.key, alice.net.m.Own().DER, bobID, []byte("from-the-future"), clock.now().Add(2*time.Hour))
	if ferr != nil {
		t.Fatal(ferr)
	}
	if err := mailbox.Sign(alice.key, alice.net.m.Own().DER, bobID, &future); err != nil {
		t.Fatal(err)
	}
	for _, x := range []mailbox.Item{it, future} {
		if ok, err := other.msg.box.Put(bobID, x, time.Now()); !ok || err != nil {
			t.Fatalf("parking again: %v, %v", ok, err)
		}
	}
	refused := bob2.msg.refused.Load()
	bob2.msg.collect(ctx, []peer.ID{other.h.ID()})
	select {
	case m := <-bob2.Messages():
		t.Fatalf("%q was delivered again after its seen record expired", strings.Fields(string(m.Body))[0])
	default:
	}
	if got := bob2.msg.refused.Load() - refused; got != 2 {
		t.Fatalf("%d messages refused, want the replay and the one from the future", got)
	}
	waitUntil(t, 20*time.Second, "the refused copies deleted at the holder", func() bool { return len(other.msg.box.IDs(bobID)) == 0 })
}
