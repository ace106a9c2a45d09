package p2pshare

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/mailbox"
)

// TestInboxOwnerOnly: Mallory, a member in good standing, asks a node that
// holds Bob's inbox for its list of message IDs, for the messages and to
// delete them: each is refused, and the message is still there for Bob,
// who lists and collects it over his own authenticated stream.
func TestInboxOwnerOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The default republish interval: the members' own collections start
	// at their first tick, half a minute on, and do not race the test.
	cfg := func(name string) func(*Config) { return func(c *Config) { c.Name = name; c.Replicas = 3 } }
	boot := testNode(t, nil, cfg("teacher"))
	class := []*Swarm{boot}
	for _, n := range []string{"alice", "bob", "mallory", "carol", "dave"} {
		class = append(class, testNode(t, boot, cfg(n)))
	}
	alice, bob, mallory := class[1], class[2], class[3]
	sealed := seal(t, alice, alice, bob, "the exam key is in the blue folder")
	if n, err := alice.msg.park(ctx, bob.h.ID(), bob.net.m.Own().DER, sealed); err != nil || n == 0 {
		t.Fatalf("parking: %d holders, %v", n, err)
	}
	id := mailbox.IDOf(sealed)
	var holder *Swarm
	for _, h := range class {
		if h != bob && h != mallory && len(h.msg.box.Have(bob.h.ID(), []mailbox.ItemID{id})) == 1 {
			holder = h
			break
		}
	}
	if holder == nil {
		t.Fatal("no member but Bob and Mallory holds Bob's message")
	}
	// Bob and Mallory find the holder as anyone would, its addresses
	// through the DHT.
	for _, as := range []*Swarm{bob, mallory} {
		ai, err := as.dht.FindPeer(ctx, holder.h.ID())
		if err != nil {
			t.Fatalf("%s looks the holder up: %v", as.net.m.Own().Name, err)
		}
		as.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
	}
	ask := func(as *Swarm, req mailbox.Request) mailbox.Response {
		t.Helper()
		resp, err := as.msg.request(ctx, holder.h.ID(), mailbox.Protocol, req.Encode())
		if err != nil {
			t.Fatalf("op %d as %s: %v", req.Op, as.net.m.Own().Name, err)
		}
		return resp
	}
	owner := bob.h.ID()
	attacks := []struct {
		name string
		req  mailbox.Request
	}{
		{"lists Bob's inbox", mailbox.Request{Op: mailbox.OpHave, Owner: owner}},
		{"collects Bob's messages", mailbox.Request{Op: mailbox.OpTake, Owner: owner}},
		{"deletes Bob's message", mailbox.Request{Op: mailbox.OpDel, Owner: owner, IDs: []mailbox.ItemID{id}}},
	}
	for _, a := range attacks {
		resp := ask(mallory, a.req)
		if resp.OK || len(resp.IDs) > 0 || len(resp.Items) > 0 {
			t.Errorf("Mallory %s: answered %+v", a.name, resp)
		} else if !strings.Contains(resp.Error, "only the inbox's owner") || !strings.Contains(resp.Error, mallory.ID().String()) {
			t.Errorf("Mallory %s: refused with %q, want a refusal that names her", a.name, resp.Error)
		}
	}
	// Naming the ID, as a holder replicating the inbox does, one may ask
	// whether it is held.
	if resp := ask(mallory, mailbox.Request{Op: mailbox.OpHave, Owner: owner, IDs: []mailbox.ItemID{id}}); !resp.OK || len(resp.IDs) != 1 || resp.IDs[0] != id {
		t.Errorf("asking about a known ID: %+v", resp)
	}
	if resp := ask(bob, mailbox.Request{Op: mailbox.OpHave, Owner: owner}); !resp.OK || len(resp.IDs) != 1 || resp.IDs[0] != id {
		t.Fatalf("Bob lists his inbox: %+v", resp)
	}
	resp := ask(bob, mailbox.Request{Op: mailbox.OpTake, Owner: owner})
	if !resp.OK || len(resp.Items) != 1 || mailbox.IDOf(resp.Items[0].Sealed) != id {
		t.Fatalf("Bob collects: %+v", resp)
	}
	if err := bob.msg.accept(resp.Items[0].Sealed); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ctx, bob); m.FromName != "alice" || string(m.Body) != "the exam key is in the blue folder" {
		t.Fatalf("got %q from %s", m.Body, m.FromName)
	}
}

// TestCollectPastASilentHolder: of the three holders Bob's collection
// asks, two answer and one accepts the stream and never answers (its
// handler blocks). Bob gets both messages from the two that answer; once
// the silent holder's own time limit has passed (here when the test says
// so), the collection is over, and the silent holder's handler is still
// blocked: nothing waited for it but its own request. Bob acknowledges
// both, and the copies on the holders that answered are deleted.
func TestCollectPastASilentHolder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := func(name string) func(*Config) { return func(c *Config) { c.Name = name } }
	boot := testNode(t, nil, cfg("teacher"))
	alice := testNode(t, boot, cfg("alice"))
	h1, h2 := testNode(t, boot, cfg("h1")), testNode(t, boot, cfg("h2"))
	silent := testNode(t, boot, cfg("silent"))
	bob := testNode(t, boot, cfg("bob"))
	owner := bob.h.ID()

	// The silent holder accepts each stream and never answers, until the
	// test ends.
	asked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var blocked atomic.Int32
	silent.h.SetStreamHandler(mailbox.Protocol, func(st network.Stream) {
		blocked.Add(1)
		defer blocked.Add(-1)
		once.Do(func() { close(asked) })
		<-release
		st.Reset()
	})
	defer close(release)
	// The silent holder holds both messages too; each of the others one.
	park := func(h *Swarm, body string) {
		sealed := seal(t, alice, alice, bob, body)
		for _, on := range []*Swarm{h, silent} {
			it := mailbox.Item{Sealed: sealed, Sender: alice.h.ID(), Expiry: time.Now().Add(time.Hour).Truncate(time.Second)}
			if ok, err := on.msg.box.Put(owner, it, time.Now()); !ok || err != nil {
				t.Fatalf("parking on %s: %v", on.ID(), err)
			}
		}
	}
	park(h1, "room B-204")
	park(h2, "bring a pencil")

	// Each holder's time limit: the silent one's is up when giveUp
	// closes, the others' never.
	giveUp := make(chan struct{})
	wait := func(ctx context.Context, h peer.ID) (context.Context, func(), context.CancelFunc) {
		hctx, cancel := context.WithCancel(ctx)
		if h == silent.h.ID() {
			go func() {
				select {
				case <-giveUp:
					cancel()
				case <-hctx.Done():
				}
			}()
		}
		return hctx, func() {}, cancel
	}
	// Bob knows where the holders are, as from the lookup of his inbox.
	var holders []peer.ID
	for _, h := range []*Swarm{h1, h2, silent} {
		bob.h.Peerstore().AddAddrs(h.h.ID(), h.h.Addrs(), time.Hour)
		holders = append(holders, h.h.ID())
	}
	returned := make(chan []peer.ID, 1)
	go func() { returned <- bob.msg.collectWithin(ctx, holders, wait) }()

	got := map[string]bool{}
	for range 2 {
		m := receive(t, ctx, bob)
		got[string(m.Body)] = true
	}
	if !got["room B-204"] || !got["bring a pencil"] {
		t.Fatalf("got %v", got)
	}
	select {
	case <-asked:
	case <-ctx.Done():
		t.Fatal("the silent holder was never asked")
	}
	close(giveUp) // the silent holder's time is up
	// A collection that waited on anything but the silent holder's own
	// limit would go on to its other limits (20 s, as it once did): fail
	// well before that rather than pass late.
	select {
	case near := <-returned:
		if len(near) != 3 {
			t.Fatalf("the closest holders asked: %v", near)
		}
	case <-time.After(inboxLookupWait / 2):
		t.Fatal("the collection goes on after the silent holder's time is up")
	}
	if blocked.Load() == 0 {
		t.Fatal("the silent holder's handler returned before the test released it")
	}
	// Bob acknowledged both (receive does): the copies on the holders
	// that handed them over go.
	waitUntil(t, 10*time.Second, "the copies on the holders that answered deleted", func() bool {
		return len(h1.msg.box.IDs(owner))+len(h2.msg.box.IDs(owner)) == 0
	})
}
