package p2pshare

import (
	"context"
	"strings"
	"testing"
	"time"

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
	if n, err := alice.msg.park(ctx, bob.h.ID(), sealed); err != nil || n == 0 {
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
		} else if !strings.Contains(resp.Error, "only the inbox's owner") || !strings.Contains(resp.Error, mallory.ID()) {
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
