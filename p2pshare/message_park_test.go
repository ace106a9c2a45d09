package p2pshare

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/message"
)

// parkCfg: three replicas, and the default republish interval, so the
// members' own collections (at their first tick, half a minute on) do not
// race the test.
func parkCfg(name string) func(*Config) {
	return func(c *Config) { c.Name = name; c.Replicas = 3 }
}

// signedItems seals n messages of about size bytes from s to to, each
// body starting with its tag and number, signed for parking.
func signedItems(t *testing.T, s, to *Swarm, tag string, n, size int) []mailbox.Item {
	t.Helper()
	pad := strings.Repeat(".", size)
	var out []mailbox.Item
	for i := range n {
		it := mailbox.Item{Sealed: seal(t, s, s, to, fmt.Sprintf("%s-%02d %s", tag, i, pad)), Expiry: time.Now().Add(time.Hour).Truncate(time.Second)}
		if err := mailbox.Sign(s.key, s.net.m.Own().DER, to.h.ID(), &it); err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

// knows gives s the addresses of others, as a lookup would.
func knows(s *Swarm, others ...*Swarm) {
	for _, o := range others {
		s.h.Peerstore().AddAddrs(o.h.ID(), o.h.Addrs(), time.Hour)
	}
}

// collectAll has bob collect from holders and receives (and acknowledges)
// want messages, each once.
func collectAll(t *testing.T, ctx context.Context, bob *Swarm, holders []peer.ID, want int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		bob.msg.collect(ctx, holders)
	}()
	got := map[string]bool{}
	for len(got) < want {
		m := receive(t, ctx, bob)
		body, _, _ := strings.Cut(string(m.Body), " ")
		if got[body] {
			t.Fatalf("%s delivered twice", body)
		}
		got[body] = true
	}
	<-done
}

// TestInboxPastOneFrame: five members park 140 messages of 60 KiB for Bob
// on one holder, through the inbox protocol: over 8 MiB, more than one
// frame carries. The holder passes the whole inbox on to another, as a
// republish round does, and Bob collects all of it from both; once he has
// acknowledged them, neither holds any.
func TestInboxPastOneFrame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, parkCfg("teacher"))
	holder, spare := testNode(t, boot, parkCfg("h1")), testNode(t, boot, parkCfg("h2"))
	bob := testNode(t, boot, parkCfg("bob"))
	owner, bobCert := bob.h.ID(), bob.net.m.Own().DER
	const each, size = 28, 60 << 10
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		s := testNode(t, boot, parkCfg(n))
		knows(s, holder)
		if got, err := s.msg.putAll(ctx, owner, bobCert, []peer.ID{holder.h.ID()}, signedItems(t, s, bob, n, each, size)); got != 1 {
			t.Fatalf("%s parking: %v", n, err)
		}
	}
	held := holder.msg.box.Items(owner)
	bytes := 0
	for _, it := range held {
		bytes += mailbox.ItemBytes(it)
	}
	if len(held) != 5*each || bytes <= mailbox.MaxFrame {
		t.Fatalf("the holder has %d messages, %d bytes: want %d, over %d", len(held), bytes, 5*each, mailbox.MaxFrame)
	}
	knows(holder, spare)
	if got, err := holder.msg.putAll(ctx, owner, holder.msg.ownerCert(owner), []peer.ID{spare.h.ID()}, held); got != 1 {
		t.Fatalf("passing the inbox on: %v", err)
	}
	if n := len(spare.msg.box.IDs(owner)); n != 5*each {
		t.Fatalf("the inbox passed on has %d messages, want %d", n, 5*each)
	}
	knows(bob, holder, spare)
	collectAll(t, ctx, bob, []peer.ID{holder.h.ID(), spare.h.ID()}, 5*each)
	waitUntil(t, 30*time.Second, "both holders empty", func() bool {
		return len(holder.msg.box.IDs(owner))+len(spare.msg.box.IDs(owner)) == 0
	})
}

// slowStream sends through a link of lim's rate.
type slowStream struct {
	network.Stream
	lim *rate.Limiter
}

func (s slowStream) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n := min(len(b)-done, 8<<10)
		if err := s.lim.WaitN(context.Background(), n); err != nil {
			return done, err
		}
		w, err := s.Stream.Write(b[done : done+n])
		done += w
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// TestCollectOverASlowLink: a holder's answers go through a 256 KiB/s
// link, and Bob's inbox there, 40 messages of 60 KiB, takes about nine
// seconds to come through, well past the time a holder has to answer
// (holderWait): Bob still gets all of it, since bytes keep flowing.
func TestCollectOverASlowLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, parkCfg("teacher"))
	alice, s2 := testNode(t, boot, parkCfg("alice")), testNode(t, boot, parkCfg("s2"))
	holder := testNode(t, boot, parkCfg("h1"))
	bob := testNode(t, boot, parkCfg("bob"))
	owner := bob.h.ID()
	for _, s := range []*Swarm{alice, s2} {
		for _, it := range signedItems(t, s, bob, s.net.m.Own().Name, 20, 60<<10) {
			if ok, err := holder.msg.box.Put(owner, it, time.Now()); !ok {
				t.Fatal(err)
			}
		}
	}
	lim := rate.NewLimiter(256<<10, 8<<10)
	holder.h.SetStreamHandler(mailbox.Protocol, func(st network.Stream) {
		holder.msg.handleInbox(slowStream{Stream: st, lim: lim})
	})
	knows(bob, holder)
	collectAll(t, ctx, bob, []peer.ID{holder.h.ID()}, 40)
}

// TestParkingQuotaIsTheSenders: Mallory, a member, parks messages for Bob
// on a holder claiming they are Alice's, to use up Alice's quota there
// (MaxPerSender) so that Alice can no longer write to Bob: the holder
// refuses them, and Alice's message is parked. Mallory's own messages
// count against her own quota. Parking for a peer that is not a member
// is refused.
func TestParkingQuotaIsTheSenders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, parkCfg("teacher"))
	holder := testNode(t, boot, parkCfg("h1"))
	alice, bob, mallory := testNode(t, boot, parkCfg("alice")), testNode(t, boot, parkCfg("bob")), testNode(t, boot, parkCfg("mallory"))
	owner, bobCert := bob.h.ID(), bob.net.m.Own().DER
	put := func(as *Swarm, owner peer.ID, ownerCert []byte, items []mailbox.Item) mailbox.Response {
		t.Helper()
		req := mailbox.Request{Op: mailbox.OpPut, Owner: owner, OwnerCert: ownerCert, Items: items}
		knows(as, holder)
		resp, err := as.msg.request(ctx, holder.h.ID(), mailbox.Protocol, req.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	// As Alice: her peer ID and her certificate (the member directory
	// hands it to anyone), Mallory's signature, or none.
	lies := signedItems(t, mallory, bob, "spam", mailbox.MaxPerSender+1, 100)
	for i := range lies {
		lies[i].Sender, lies[i].Cert = alice.h.ID(), alice.net.m.Own().DER
		if i%2 == 1 {
			lies[i].Sig = nil
		}
	}
	if resp := put(mallory, owner, bobCert, lies); resp.OK || !strings.Contains(resp.Error, mailbox.ErrUnsigned.Error()) {
		t.Fatalf("Mallory parking as Alice: %+v", resp)
	}
	if n := len(holder.msg.box.IDs(owner)); n != 0 {
		t.Fatalf("the holder took %d of Mallory's messages as Alice's", n)
	}
	// As herself, up to her own quota.
	own := signedItems(t, mallory, bob, "spam", mailbox.MaxPerSender+1, 100)
	if resp := put(mallory, owner, bobCert, own); resp.OK || !strings.Contains(resp.Error, mallory.ID().String()) || !strings.Contains(resp.Error, mailbox.ErrQuota.Error()) {
		t.Fatalf("Mallory over her own quota: %+v", resp)
	}
	if resp := put(alice, owner, bobCert, signedItems(t, alice, bob, "from-alice", 1, 100)); !resp.OK {
		t.Fatalf("Alice parking for Bob after Mallory's attempts: %s", resp.Error)
	}

	// For a peer that was never admitted: refused, without a certificate
	// and with one that is another member's.
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := peer.IDFromPrivateKey(k)
	sealed, _, err := message.Seal(mallory.key, mallory.net.m.Own().DER, stranger, []byte("for an outsider"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	it := mailbox.Item{Sealed: sealed, Expiry: time.Now().Add(time.Hour).Truncate(time.Second)}
	if err := mailbox.Sign(mallory.key, mallory.net.m.Own().DER, stranger, &it); err != nil {
		t.Fatal(err)
	}
	for name, cert := range map[string][]byte{"no certificate": nil, "another member's certificate": bobCert} {
		if resp := put(mallory, stranger, cert, []mailbox.Item{it}); resp.OK || !strings.Contains(resp.Error, stranger.String()) {
			t.Errorf("parking for a non-member, %s: %+v", name, resp)
		}
	}
	for _, o := range holder.msg.box.Owners() {
		if o == stranger {
			t.Fatal("the holder parked a message for a non-member")
		}
	}
}
