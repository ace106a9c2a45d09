package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// newToken is a token record admitting uses students until an hour after
// now.
func newToken(t *testing.T, uses int, now time.Time) membership.TokenRecord {
	t.Helper()
	var id [16]byte
	secret := make([]byte, 32)
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	return membership.TokenRecord{ID: hex.EncodeToString(id[:]), Secret: secret, Role: membership.RoleStudent,
		Uses: uses, UsesLeft: uses, Expires: now.Add(time.Hour), Created: now}
}

func newPeer(t testing.TB) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var serials int

// admit is the change a coordinator proposes for a join of p as name.
func admit(p peer.ID, name, token string, now time.Time) membership.Change {
	serials++
	return membership.Change{Op: membership.OpAdmit, At: now, Peer: p, Name: name, Role: membership.RoleStudent,
		TokenID: token, Serial: fmt.Sprintf("%x", 1000+serials), NotAfter: now.Add(24 * time.Hour)}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestGroupCommitsThroughAnyCoordinator: a group of three real hosts; a
// token added at one follower, joins proposed at the other follower and
// at the leader; a name is unique and a token's uses are counted once
// across the group, and every coordinator ends with the same registry.
func TestGroupCommitsThroughAnyCoordinator(t *testing.T) {
	a, b, c := group3(t)
	l := leaderOf(t, a, b, c)
	var fs []*node
	for _, n := range []*node{a, b, c} {
		if n != l {
			fs = append(fs, n)
		}
	}
	now := time.Now()
	tok := newToken(t, 2, now)
	if _, err := fs[0].g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
		t.Fatalf("adding a token at follower %s: %v", fs[0].name, err)
	}
	p1, p2, p3 := newPeer(t), newPeer(t), newPeer(t)
	res, err := fs[1].g.Change(ctxFor(t, waitBound), admit(p1, "s1", tok.ID, now))
	if err != nil {
		t.Fatalf("admitting s1 at follower %s: %v", fs[1].name, err)
	}
	if res.Member.Peer != p1 || res.Member.Name != "s1" {
		t.Fatalf("admission of s1 returned member %+v", res.Member)
	}
	cases := []struct {
		at   *node
		ch   membership.Change
		want string // "" admitted, else a piece of the refusal
	}{
		{l, admit(p2, "S1", tok.ID, now), `name "S1" is already held by peer ` + p1.String()},
		{fs[0], admit(p2, "s2", tok.ID, now), ""},
		{fs[1], admit(p3, "s3", tok.ID, now), "has no uses left (all 2 used)"},
	}
	for _, tc := range cases {
		_, err := tc.at.g.Change(ctxFor(t, waitBound), tc.ch)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s at %s: %v", tc.ch.Name, tc.at.name, err)
		case tc.want != "" && (err == nil || !membership.IsRefusal(err) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s at %s: got %v, want a refusal containing %q", tc.ch.Name, tc.at.name, err, tc.want)
		}
	}
	converged(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		got, _ := n.reg.Token(tok.ID)
		if got.UsesLeft != 0 || len(n.reg.Members()) != 2 {
			t.Errorf("%s: token has %d uses left and %d members, want 0 and 2", n.name, got.UsesLeft, len(n.reg.Members()))
		}
	}
}

// TestGroupSurvivesLeaderLoss: the leader's host dies; the two left elect
// a new leader and go on committing; the lost one comes back with its
// log and catches up.
func TestGroupSurvivesLeaderLoss(t *testing.T) {
	a, b, c := group3(t)
	now := time.Now()
	tok := newToken(t, 10, now)
	if _, err := b.g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
		t.Fatal(err)
	}
	old := leaderOf(t, a, b, c)
	var rest []*node
	for _, n := range []*node{a, b, c} {
		if n != old {
			rest = append(rest, n)
		}
	}
	old.stop(t)
	stopped := time.Now()
	nl := leaderOf(t, rest...)
	t.Logf("a new leader %v after the old one's host closed", time.Since(stopped).Round(10*time.Millisecond))
	if nl == old {
		t.Fatal("the stopped node still leads")
	}
	p := newPeer(t)
	for _, n := range rest {
		if _, err := n.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "after-"+n.name, tok.ID, now)); err != nil {
			t.Fatalf("admitting at %s after the leader's loss: %v", n.name, err)
		}
	}
	// The old leader comes back as itself, from its log.
	old.startHost(t)
	introduce(a, b, c)
	old.open(t, old == a, ids(a, b, c))
	if _, err := old.g.Change(ctxFor(t, waitBound), admit(p, "back", tok.ID, now)); err != nil {
		t.Fatalf("admitting at the old leader once back: %v", err)
	}
	converged(t, a, b, c)
	if got := len(old.reg.Members()); got != 3 {
		t.Errorf("the old leader has %d members once back, want 3", got)
	}
}

// TestGroupMinorityCannotCommit: one coordinator cut off from the other
// two can commit nothing and says why; the two admit; after healing, the
// one catches up.
func TestGroupMinorityCannotCommit(t *testing.T) {
	a, b, c := group3(t)
	now := time.Now()
	tok := newToken(t, 10, now)
	if _, err := a.g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
		t.Fatal(err)
	}
	converged(t, a, b, c)
	// Cut off the leader itself: the harder case, since it believes it
	// leads until its lease runs out.
	lone := leaderOf(t, a, b, c)
	var rest []*node
	for _, n := range []*node{a, b, c} {
		if n != lone {
			rest = append(rest, n)
		}
	}
	partition([]*node{lone}, rest, true)
	_, err := lone.g.Change(ctxFor(t, 3*time.Second), admit(newPeer(t), "lonely", tok.ID, now))
	if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrUncertain) {
		t.Fatalf("a change at the cut-off coordinator: got %v, want ErrNoQuorum or ErrUncertain", err)
	}
	t.Logf("cut off: %v", err)
	// Asked again once it knows it leads nobody: no majority, said plainly.
	waitFor(t, "the cut-off node to step down", func() bool { return !lone.g.IsLeader() })
	_, err = lone.g.Change(ctxFor(t, 2*time.Second), admit(newPeer(t), "lonely2", tok.ID, now))
	if !errors.Is(err, ErrNoQuorum) || !strings.Contains(err.Error(), "needs 2 of them") {
		t.Fatalf("a change at the cut-off follower: got %v, want ErrNoQuorum saying 2 of 3 are needed", err)
	}
	leaderOf(t, rest...)
	for _, n := range rest {
		if _, err := n.g.Change(ctxFor(t, waitBound), admit(newPeer(t), "maj-"+n.name, tok.ID, now)); err != nil {
			t.Fatalf("admitting at %s, in the majority: %v", n.name, err)
		}
	}
	partition([]*node{lone}, rest, false)
	introduce(a, b, c)
	converged(t, a, b, c)
	names := map[string]bool{}
	for _, m := range lone.reg.Members() {
		names[m.Name] = true
	}
	if !names["maj-"+rest[0].name] || !names["maj-"+rest[1].name] || names["lonely2"] {
		t.Errorf("the healed node holds members %v, want the majority's two and not lonely2", names)
	}
}

// TestGroupProtocolsOnlyForCoordinators: a peer that is no coordinator
// gets no answer on the Raft protocol nor on the proposal protocol.
func TestGroupProtocolsOnlyForCoordinators(t *testing.T) {
	a := newNode(t, "a")
	a.open(t, true, nil)
	out := newNode(t, "outsider")
	introduce(a, out)
	for _, pid := range []string{"/raft/1.0.0/rpc", string(ProtocolPropose)} {
		s, err := out.h.NewStream(ctxFor(t, waitBound), a.id(), protocolID(pid))
		if err != nil {
			continue // refused at negotiation: fine too
		}
		if err := writeFrame(s, []byte(`{"op":"appoint","coordinator":{"peer":"`+out.id().String()+`","name":"x"}}`)); err == nil {
			_ = s.CloseWrite()
		}
		_ = s.SetDeadline(time.Now().Add(waitBound))
		if b, err := readFrame(s, "reply"); err == nil {
			t.Errorf("outsider got an answer on %s: %q", pid, b)
		}
	}
	if got := len(a.g.Coordinators()); got != 1 {
		t.Errorf("the group has %d coordinators after an outsider's try, want 1", got)
	}
}
