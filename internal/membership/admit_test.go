package membership

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	lphost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
)

func TestTokenUses(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{Uses: 2})
	for _, name := range []string{"s1", "s2"} {
		if _, err := joinWith(t, newKey(t), inv, name, RoleStudent); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err := joinWith(t, newKey(t), inv, "s3", RoleStudent)
	wantRefused(t, err, "no uses left")
	if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 0 {
		t.Errorf("uses left %d, want 0", tok.UsesLeft)
	}
}

func TestTokenExpired(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{TTL: time.Hour})
	tn.clock.Advance(2 * time.Hour) // the bootstrap's clock; the newcomer's still says the invite is fresh
	_, err := joinWith(t, newKey(t), inv, "late", RoleStudent)
	wantRefused(t, err, "expired")
}

func TestTokenWrongRoleAndSecret(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{})
	_, err := joinWith(t, newKey(t), inv, "sneaky", RoleTeacher)
	wantRefused(t, err, "admits a student, not a teacher")
	bad := inv
	bad.Secret[0] ^= 1
	_, err = joinWith(t, newKey(t), bad, "guesser", RoleStudent)
	wantRefused(t, err, "does not verify")
	unknown := inv
	unknown.TokenID[0] ^= 1
	_, err = joinWith(t, newKey(t), unknown, "guesser", RoleStudent)
	wantRefused(t, err, "not known")
	if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 1 {
		t.Errorf("refusals used the token: %d uses left, want 1", tok.UsesLeft)
	}
}

// TestConcurrentJoinsOneUse races eight newcomers on a one-use token.
func TestConcurrentJoinsOneUse(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{Uses: 1})
	const n = 8
	hosts := make([]lphost.Host, n)
	for i := range hosts {
		hosts[i] = plainHost(t, newKey(t))
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			<-start
			_, errs[i] = Join(ctx, hosts[i], inv, JoinRequest{Name: string(rune('a' + i))})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrRefused):
		default:
			t.Errorf("joiner %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d joins won a one-use token, want exactly 1 (errors: %v)", won, errs)
	}
	if got := len(tn.boot.Registry().Members()); got != 2 { // the teacher and the winner
		t.Errorf("registry holds %d members, want 2", got)
	}
}

// TestFakeBootstrapGetsNoToken: a bootstrap that cannot prove the pinned CA
// (another CA, or the real CA's challenge relayed from another session) is
// refused before the newcomer sends anything.
func TestFakeBootstrapGetsNoToken(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{})
	otherCA, err := LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// challenge builds what the fake sends first on its stream to the
		// newcomer.
		challenge func(t *testing.T, fake lphost.Host, newcomer network.Stream) []byte
		want      error
	}{
		{"another CA", func(t *testing.T, fake lphost.Host, s network.Stream) []byte {
			m := serverMsg{Kind: kindChallenge, CA: otherCA.CertDER()}
			copy(m.Sig[:], otherCA.sign(transcript("sig", m.Nonce, fake.ID(), s.Conn().RemotePeer())))
			return m.encode()
		}, ErrWrongCA},
		{"relayed challenge of the real CA", func(t *testing.T, fake lphost.Host, _ network.Stream) []byte {
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			if err := fake.Connect(ctx, inv.Bootstrap); err != nil {
				t.Error(err)
				return nil
			}
			up, err := fake.NewStream(ctx, inv.Bootstrap.ID, ProtocolAdmit)
			if err != nil {
				t.Error(err)
				return nil
			}
			defer up.Reset()
			b, err := readFrame(up, maxServerMsg, "relayed challenge")
			if err != nil {
				t.Error(err)
			}
			return b
		}, ErrBadChallenge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := plainHost(t, newKey(t))
			received := make(chan int, 1)
			fake.SetStreamHandler(ProtocolAdmit, func(s network.Stream) {
				defer s.Close()
				_ = writeFrame(s, tc.challenge(t, fake, s))
				_ = s.SetDeadline(time.Now().Add(waitBound))
				n, _ := io.Copy(io.Discard, s) // until the newcomer resets or closes
				received <- int(n)
			})
			forged := inv
			forged.Bootstrap = info(fake)
			_, err := joinWith(t, newKey(t), forged, "victim", RoleStudent)
			if !errors.Is(err, tc.want) {
				t.Fatalf("join: %v, want %v", err, tc.want)
			}
			if n := <-received; n != 0 {
				t.Fatalf("the fake bootstrap received %d bytes; want none", n)
			}
		})
	}
}

func TestDuplicateIDAndName(t *testing.T) {
	tn := newTestNet(t, nil)
	k := newKey(t)
	if _, err := joinWith(t, k, tn.invite(InviteOptions{}), "alice", RoleStudent); err != nil {
		t.Fatal(err)
	}
	_, err := joinWith(t, k, tn.invite(InviteOptions{}), "alice2", RoleStudent)
	wantRefused(t, err, "is already a member, as \"alice\"")
	_, err = joinWith(t, newKey(t), tn.invite(InviteOptions{}), "ALICE", RoleStudent)
	wantRefused(t, err, "name \"ALICE\" is already held by peer")
	_, err = joinWith(t, newKey(t), tn.invite(InviteOptions{}), "teacher", RoleStudent)
	wantRefused(t, err, "already held")
}

// TestJoinRetry: a newcomer whose grant was lost joins again with the same
// token and name and gets a certificate without spending another use.
func TestJoinRetry(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{Uses: 1})
	k := newKey(t)
	c1, err := joinWith(t, k, inv, "alice", RoleStudent)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := joinWith(t, k, inv, "alice", RoleStudent)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	m1, _ := ParseMemberCert(c1.Cert)
	m2, _ := ParseMemberCert(c2.Cert)
	if m1.Serial.Cmp(m2.Serial) == 0 {
		t.Error("the retry got the same serial")
	}
	if rec, _ := tn.boot.Registry().Member(m1.Peer); len(rec.Serials) != 2 {
		t.Errorf("registry serials %v, want both", rec.Serials)
	}
}

func TestPolicy(t *testing.T) {
	var asked []string
	var mu sync.Mutex
	tn := newTestNet(t, func(c *BootstrapConfig) {
		c.AllowNames = []string{"r001", "r002"}
		c.Approve = func(_ context.Context, r Request) (bool, string) {
			mu.Lock()
			asked = append(asked, r.Name)
			mu.Unlock()
			return r.Name == "r001", "seat taken"
		}
	})
	_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "r999", RoleStudent)
	wantRefused(t, err, "not on this network's list")
	_, err = joinWith(t, newKey(t), tn.invite(InviteOptions{}), "r002", RoleStudent)
	wantRefused(t, err, "not approved: seat taken")
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "R001", RoleStudent); err == nil {
		t.Fatal("R001 is not r001 to the approval callback, which refuses it")
	}
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "r001", RoleStudent); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 3 {
		t.Errorf("approval asked about %v; the name off the list must not reach it", asked)
	}
}

func TestRenew(t *testing.T) {
	tn := newTestNet(t, nil)
	a := tn.member("alice")
	link(t, a, tn.bn)
	cur := Credentials{CA: tn.boot.CA().CertDER(), Cert: a.m.Own().DER}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	next, err := Renew(ctx, a.h, info(tn.bn.h), cur, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	old := a.m.Own()
	if err := a.m.SetCert(next.Cert); err != nil {
		t.Fatal(err)
	}
	if nw := a.m.Own(); nw.Serial.Cmp(old.Serial) == 0 || nw.Name != "alice" || nw.Role != RoleStudent {
		t.Errorf("renewed certificate %+v", nw)
	}
	// An outsider cannot renew: it has no certificate of its own.
	out := plainHost(t, newKey(t))
	_, err = Renew(ctx, out, info(tn.bn.h), cur, time.Now())
	wantRefused(t, err, "certificate is for another peer")
}

// TestBootstrapRestart: the CA, the registry and used tokens survive.
func TestBootstrapRestart(t *testing.T) {
	tn := newTestNet(t, nil)
	fp := tn.boot.CA().Fingerprint()
	used := tn.invite(InviteOptions{})
	fresh := tn.invite(InviteOptions{})
	k := newKey(t)
	if _, err := joinWith(t, k, used, "alice", RoleStudent); err != nil {
		t.Fatal(err)
	}
	tn.stop()
	tn.start(nil)
	if tn.boot.CA().Fingerprint() != fp {
		t.Fatal("the CA changed across a restart")
	}
	if _, ok := tn.boot.Registry().Member(peerOf(t, k)); !ok {
		t.Fatal("alice is gone from the registry")
	}
	// The invites name the old listen port; point them at the new one.
	used.Bootstrap, fresh.Bootstrap = info(tn.bn.h), info(tn.bn.h)
	_, err := joinWith(t, newKey(t), used, "bob", RoleStudent)
	wantRefused(t, err, "no uses left")
	_, err = joinWith(t, newKey(t), fresh, "alice", RoleStudent)
	wantRefused(t, err, "already held")
	if _, err := joinWith(t, newKey(t), fresh, "carol", RoleStudent); err != nil {
		t.Fatalf("a token issued before the restart: %v", err)
	}
}

// TestBootstrapIdleNewcomerNotBlocked: on the bootstrap, a peer that shows
// no certificate is dropped after the deadline but not blocked, since it
// may be a newcomer that was slow to start its admission.
func TestBootstrapIdleNewcomerNotBlocked(t *testing.T) {
	tn := newTestNet(t, nil)
	k := newKey(t)
	idle := plainHost(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := idle.Connect(ctx, info(tn.bn.h)); err != nil {
		t.Fatal(err)
	}
	tn.bn.ev.until(t, "the bootstrap to drop the idle peer", func() bool {
		return errors.Is(tn.bn.ev.dropped(idle.ID()), ErrNoCredential) && !tn.bn.connected(idle.ID())
	})
	if tn.bn.m.Blocked(idle.ID()) {
		t.Fatal("the bootstrap blocked a peer that may be a newcomer")
	}
	_ = idle.Close()
	if _, err := joinWith(t, k, tn.invite(InviteOptions{}), "slowpoke", RoleStudent); err != nil {
		t.Fatalf("joining after being dropped idle: %v", err)
	}
}
