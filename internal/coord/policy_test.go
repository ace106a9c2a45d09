package coord

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestGroupNamePolicyDecidedAlike: a group of three real hosts; the
// allow-list, a name added to it, the cap per address and a per-student
// invite are each committed at one coordinator and hold at the others.
func TestGroupNamePolicyDecidedAlike(t *testing.T) {
	a, b, c := group3(t)
	now := time.Now()
	tok := newToken(t, 10, now)
	bound := newToken(t, 1, now)
	bound.Name = "s9"
	for _, tk := range []*membership.TokenRecord{&tok, &bound} {
		if _, err := a.g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: tk}); err != nil {
			t.Fatalf("adding token %s at a: %v", tk.ID, err)
		}
	}
	if err := b.g.SetAllowNames(ctxFor(t, waitBound), []string{"s1", "s2", "s3", "s9"}); err != nil {
		t.Fatalf("setting the list at b: %v", err)
	}
	if err := c.g.SetMaxPerAddress(ctxFor(t, waitBound), 1); err != nil {
		t.Fatalf("setting the cap at c: %v", err)
	}
	from := func(ch membership.Change, addr string) membership.Change { ch.Addr = addr; return ch }
	steps := []struct {
		name string
		do   func() error
		want string // "" succeeds, else a piece of the refusal
	}{
		{"off the list at a", func() error {
			_, err := a.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "x1", tok.ID, now))
			return err
		}, `name "x1" is not on this network's list`},
		{"off the list at c", func() error {
			_, err := c.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "x1", tok.ID, now))
			return err
		}, `name "x1" is not on this network's list`},
		{"x1 added at c", func() error { return c.g.AllowName(ctxFor(t, waitBound), "x1") }, ""},
		{"x1 admitted at a", func() error {
			_, err := a.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "x1", tok.ID, now))
			return err
		}, ""},
		{"x1 added again at b", func() error { return b.g.AllowName(ctxFor(t, waitBound), "x1") }, `name "x1" is on the list already`},
		{"first from 10.0.0.1 at a", func() error {
			_, err := a.g.Change(ctxFor(t, waitBound), from(admit(newPeer(t), "s1", tok.ID, now), "10.0.0.1"))
			return err
		}, ""},
		{"second from 10.0.0.1 at b", func() error {
			_, err := b.g.Change(ctxFor(t, waitBound), from(admit(newPeer(t), "s2", tok.ID, now), "10.0.0.1"))
			return err
		}, "address 10.0.0.1 already has 1 members"},
		{"from 10.0.0.2 at b", func() error {
			_, err := b.g.Change(ctxFor(t, waitBound), from(admit(newPeer(t), "s2", tok.ID, now), "10.0.0.2"))
			return err
		}, ""},
		{"bound name with the shared invite at c", func() error {
			_, err := c.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "s9", tok.ID, now))
			return err
		}, `name "s9" is reserved for the student's own invite`},
		{"bound name with its own invite at b", func() error {
			_, err := b.g.Change(ctxFor(t, waitBound), from(admit(newPeer(t), "s9", bound.ID, now), "10.0.0.1"))
			return err
		}, ""},
		{"the list lifted at a", func() error { return a.g.SetAllowNames(ctxFor(t, waitBound), nil) }, ""},
		{"any name at c", func() error {
			_, err := c.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "zz", tok.ID, now))
			return err
		}, ""},
	}
	for _, st := range steps {
		err := st.do()
		switch {
		case st.want == "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.want != "" && (err == nil || !membership.IsRefusal(err) || !strings.Contains(err.Error(), st.want)):
			t.Fatalf("%s: got %v, want a refusal containing %q", st.name, err, st.want)
		}
	}
	converged(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		if _, on := n.reg.AllowNames(); on || n.reg.MaxPerAddress() != 1 || n.g.MaxPerAddress() != 1 {
			t.Errorf("%s: list in force %v, cap %d (group %d); want none and 1", n.name, on, n.reg.MaxPerAddress(), n.g.MaxPerAddress())
		}
	}
}

// TestSnapshotCarriesPolicy: a snapshot holds the cap and whether an
// import may still come; a state machine restored from it decides alike.
func TestSnapshotCarriesPolicy(t *testing.T) {
	f := newFSM(membership.NewMemoryRegistry())
	if err := f.applyPolicy(command{Op: opMaxPerAddr, Max: 3}); err != nil {
		t.Fatal(err)
	}
	f.seal()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := newFSM(membership.NewMemoryRegistry())
	if err := g.Restore(nopCloser{bytes.NewReader(snap.(snapshot))}); err != nil {
		t.Fatal(err)
	}
	if g.reg.MaxPerAddress() != 3 || g.maxPerAddr != 3 || !g.sealed {
		t.Fatalf("restored cap %d/%d, sealed %v; want 3 and sealed", g.reg.MaxPerAddress(), g.maxPerAddr, g.sealed)
	}
	reg, _ := membership.NewMemoryRegistry().MarshalState()
	if err := g.applyPolicy(command{Op: opImport, Registry: reg}); err == nil || !membership.IsRefusal(err) {
		t.Fatalf("an import after a snapshot of a sealed log: %v, want a refusal", err)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestGroupImportsRegistryOnce: a group started with a lone bootstrap's
// registry holds its members, tokens and revocations at every
// coordinator; a restart does not import it again (which would undo what
// the group committed since).
func TestGroupImportsRegistryOnce(t *testing.T) {
	now := time.Now()
	old := membership.NewMemoryRegistry()
	tok := newToken(t, 5, now)
	s1, s2 := newPeer(t), newPeer(t)
	for _, ch := range []membership.Change{
		{Op: membership.OpAddToken, At: now, Token: &tok},
		admit(s1, "s1", tok.ID, now),
		admit(s2, "s2", tok.ID, now),
		{Op: membership.OpRevoke, At: now, Who: "s2"},
	} {
		if _, err := old.Apply(ch); err != nil {
			t.Fatalf("building the old registry: %s: %v", ch.Op, err)
		}
	}
	imp, err := old.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	a, b := newNode(t, "a"), newNode(t, "b")
	introduce(a, b)
	openImport := func() {
		a.reg = membership.NewMemoryRegistry()
		g, err := Open(Config{Host: a.h, Dir: a.dir, Registry: a.reg, Bootstrap: true, Name: a.name, Import: imp, Timing: testTiming})
		if err != nil {
			t.Fatalf("a: %v", err)
		}
		a.g = g
		t.Cleanup(func() { _ = g.Close() })
	}
	openImport()
	b.open(t, false, ids(a, b))
	if err := a.g.Appoint(ctxFor(t, waitBound), b.id(), b.name); err != nil {
		t.Fatal(err)
	}
	converged(t, a, b)
	s3 := newPeer(t)
	for _, tc := range []struct {
		ch   membership.Change
		want string
	}{
		{admit(newPeer(t), "s1", tok.ID, now), `name "s1" is already held by peer ` + s1.String()},
		{admit(s2, "s2", tok.ID, now), "peer " + s2.String() + " was revoked"},
		{admit(s3, "s3", tok.ID, now), ""},
	} {
		_, err := b.g.Change(ctxFor(t, waitBound), tc.ch)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Fatalf("%s at b: %v, want %q", tc.ch.Name, err, tc.want)
		}
	}
	converged(t, a, b)
	if got, _ := b.reg.Token(tok.ID); got.UsesLeft != 2 {
		t.Fatalf("b: the imported token has %d uses left, want 2 (two imported, one at b)", got.UsesLeft)
	}

	// a restarts, with the same registry to import: the group keeps s3.
	a.stop(t)
	a.startHost(t)
	introduce(a, b)
	openImport()
	converged(t, a, b)
	if _, ok := a.reg.Member(s3); !ok {
		t.Fatal("after a's restart, s3, admitted after the import, is gone: the registry was imported again")
	}
	if _, ok := a.reg.Member(s1); !ok || len(a.reg.Revoked()) != 1 {
		t.Fatalf("after a's restart: s1 a member %v, %d revoked; want the imported state", ok, len(a.reg.Revoked()))
	}
}

// TestFollowerReadsItsOwnChange: a change a follower forwards to the
// leader is in the follower's own registry when Change returns, so that
// the invite it just made admits there at once.
func TestFollowerReadsItsOwnChange(t *testing.T) {
	a, b, c := group3(t)
	l := leaderOf(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		if n == l {
			continue
		}
		now := time.Now()
		tok := newToken(t, 1, now)
		if _, err := n.g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
			t.Fatalf("adding a token at %s: %v", n.name, err)
		}
		if _, ok := n.reg.Token(tok.ID); !ok {
			t.Fatalf("%s: the token it added is not in its registry when Change returns", n.name)
		}
	}
}
