package p2pshare

import (
	"context"
	"strings"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestJoinWithClockSkew: the bootstrap's clock is 50 minutes ahead of its
// students'. They join, and each takes the other's certificate and the
// bootstrap's.
func TestJoinWithClockSkew(t *testing.T) {
	ahead := &testClock{}
	ahead.advance(50 * time.Minute)
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.now = ahead.now })
	ana := testNode(t, boot, func(c *Config) { c.Name = "ana" })
	ben := testNode(t, boot, func(c *Config) { c.Name = "ben" })
	if err := ana.h.Connect(context.Background(), ben.h.Peerstore().PeerInfo(ben.h.ID())); err != nil {
		t.Fatal(err)
	}
	ben.h.Peerstore().AddAddrs(ben.h.ID(), ben.h.Addrs(), time.Hour)
	knows(ana, ben)
	waitUntil(t, 20*time.Second, "the students and the bootstrap members of each other", func() bool {
		return boot.IsMember(ana.h.ID()) && ana.IsMember(boot.h.ID()) && ana.IsMember(ben.h.ID()) && ben.IsMember(ana.h.ID())
	})
}

// lapsed runs a class whose clocks read lapse past a member
// certificate's lifetime ago: s1234 joins, and both close. It returns the
// bootstrap's folder and address and the student's folder; the clock now
// reads the time again.
func lapsed(t *testing.T, lapse time.Duration) (bootDir, addr, dir string, clock *testClock) {
	t.Helper()
	clock = &testClock{}
	clock.advance(-membership.DefaultCertTTL - lapse)
	bootDir, dir = t.TempDir(), t.TempDir()
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.DataDir = bootDir; c.now = clock.now })
	s := testNode(t, boot, func(c *Config) { c.Name = "s1234"; c.DataDir = dir; c.now = clock.now })
	waitUntil(t, 20*time.Second, "s1234 a member", func() bool { return boot.IsMember(s.h.ID()) })
	for _, a := range boot.h.Addrs() {
		if v, err := a.ValueForProtocol(ma.P_IP4); err == nil && v == "127.0.0.1" {
			addr = a.String()
		}
	}
	s.Close()
	boot.Close()
	clock.advance(membership.DefaultCertTTL + lapse)
	return bootDir, addr, dir, clock
}

// restartAt starts the node kept in dir again, on the clock, listening on
// listen (the bootstrap: where its members knew it) or anywhere.
func restartAt(ctx context.Context, name, dir, listen, invite string, clock *testClock) (*Swarm, error) {
	if listen == "" {
		listen = "/ip4/127.0.0.1/tcp/0"
	}
	s, err := New(ctx, Config{Name: name, DataDir: dir, ListenAddrs: []ma.Multiaddr{ma.StringCast(listen)}, Invite: invite, JoinTimeout: 20 * time.Second, now: clock.now})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// TestRenewAfterTheSummer: a student's laptop stays closed past its
// certificate's expiry. Back within the grace, it is renewed under its
// name with no invite; back after the grace, it is told to get an invite,
// and joins with one under its name; revoked, it is renewed never, and an
// invite does not bring it back.
func TestRenewAfterTheSummer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, c := range []struct {
		name       string
		lapse      time.Duration
		revoke     bool
		renewed    bool   // without an invite
		refusal    string // without an invite, if not renewed
		withInvite bool   // joins again with an invite
	}{
		{name: "within the grace", lapse: 24 * time.Hour, renewed: true},
		{name: "past the grace", lapse: membership.RenewGrace + 24*time.Hour, refusal: "grace", withInvite: true},
		{name: "revoked", lapse: 24 * time.Hour, revoke: true, refusal: "revoked"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bootDir, addr, dir, clock := lapsed(t, c.lapse)
			boot, err := restartAt(ctx, "teacher", bootDir, addr, "", clock)
			if err != nil {
				t.Fatal(err)
			}
			defer boot.Close()
			if c.revoke {
				if err := boot.Revoke("s1234"); err != nil {
					t.Fatal(err)
				}
			}
			s, err := restartAt(ctx, "", dir, "", "", clock)
			if c.renewed {
				if err != nil {
					t.Fatalf("back within the grace: %v", err)
				}
				defer s.Close()
				own := s.net.m.Own()
				if own.Name != "s1234" || !own.NotAfter.After(clock.now().Add(membership.DefaultCertTTL/2)) {
					t.Fatalf("renewed as %q until %v", own.Name, own.NotAfter)
				}
				waitUntil(t, 20*time.Second, "s1234 a member again", func() bool { return boot.IsMember(s.h.ID()) && s.IsMember(boot.h.ID()) })
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("started with a certificate that should not be renewed")
			}
			if !strings.Contains(err.Error(), c.refusal) || !strings.Contains(err.Error(), "invite") {
				t.Fatalf("error %q: want it to say %q and to ask for an invite", err, c.refusal)
			}
			inv, err := boot.Invite(InviteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s, err = restartAt(ctx, "", dir, "", inv, clock)
			if !c.withInvite {
				if err == nil {
					s.Close()
					t.Fatal("a revoked member joined again with an invite")
				}
				return
			}
			if err != nil {
				t.Fatalf("joining again with an invite: %v", err)
			}
			defer s.Close()
			if own := s.net.m.Own(); own.Name != "s1234" {
				t.Fatalf("joined again as %q, want its name s1234", own.Name)
			}
			waitUntil(t, 20*time.Second, "s1234 a member again", func() bool { return boot.IsMember(s.h.ID()) })
		})
	}
}

// TestBootstrapRenewsItsOwnCertificate: a bootstrap that runs until its
// own member certificate is due signs itself a new one, which its node
// then shows; before, it renewed only when it started again, and a node
// up for longer than a certificate lives was refused by its members.
func TestBootstrapRenewsItsOwnCertificate(t *testing.T) {
	clock := &testClock{}
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.now = clock.now })
	old := boot.net.m.Own()
	clock.advance(old.NotAfter.Sub(clock.now()) - 5*24*time.Hour)
	boot.renewIfDue(context.Background())
	now := boot.net.m.Own()
	if now.Serial.Cmp(old.Serial) == 0 || !now.NotAfter.After(old.NotAfter) || now.Name != "teacher" {
		t.Fatalf("5 days before its certificate ends (%s), the bootstrap shows serial %x to %s (before: %x to %s)",
			old.NotAfter.Format(time.RFC3339), now.Serial, now.NotAfter.Format(time.RFC3339), old.Serial, old.NotAfter.Format(time.RFC3339))
	}
	s := testNode(t, boot, func(c *Config) { c.Name = "s1"; c.now = clock.now })
	waitUntil(t, 20*time.Second, "a newcomer and the renewed bootstrap members of each other", func() bool {
		return boot.IsMember(s.h.ID()) && s.IsMember(boot.h.ID())
	})
}
