package p2pshare

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// sentinels are the errors a program tells apart; each case of
// TestErrorsToActOn must match its own and no other.
var sentinels = map[string]error{
	"ErrBadInvite": ErrBadInvite, "ErrInviteExpired": ErrInviteExpired, "ErrInviteUsedUp": ErrInviteUsedUp,
	"ErrRefused": ErrRefused, "ErrNameTaken": ErrNameTaken, "ErrWrongNetwork": ErrWrongNetwork,
	"ErrRevoked": ErrRevoked, "ErrBadInfohash": ErrBadInfohash, "ErrNotFound": ErrNotFound,
	"ErrStalled": ErrStalled, "ErrClosed": ErrClosed, "ErrNotBootstrap": ErrNotBootstrap,
	"fs.ErrExist": fs.ErrExist,
}

// TestErrorsToActOn provokes, through the public API on real nodes, each
// error a program must tell apart, and checks errors.Is finds the right
// sentinel (and no other), and that the text reads without the chain of
// internal packages.
func TestErrorsToActOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	other := testNode(t, nil, nil) // the bootstrap of another network
	aliceDir := t.TempDir()
	alice := testNode(t, boot, func(c *Config) { c.Name = "alice"; c.DataDir = aliceDir })
	revokedDir := revokedMember(t)
	src, _ := randomFile(t, t.TempDir(), 64<<10)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closed := testNode(t, boot, nil)
	closed.Close()

	invite := func(s *Swarm, o InviteOptions) string {
		inv, err := s.Invite(o)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	join := func(cfg Config) error {
		cfg.ListenAddrs = loopback()
		s, err := New(ctx, cfg)
		if err == nil {
			s.Close()
			return errors.New("New succeeded")
		}
		return err
	}
	usedUp := invite(boot, InviteOptions{Uses: 1})
	if err := join(Config{Invite: usedUp}); err == nil || err.Error() != "New succeeded" {
		t.Fatalf("the invite's one use: %v", err)
	}
	// An invite to boot's network whose bootstrap address is other's: the
	// bootstrap reached proves another CA than the invite pins.
	misdirected, err := membership.ParseInvite(invite(boot, InviteOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := membership.ParseInvite(invite(other, InviteOptions{}))
	misdirected.Bootstrap = o.Bootstrap
	expired, _ := membership.ParseInvite(invite(boot, InviteOptions{}))
	expired.Expires = time.Now().Add(-time.Minute).Truncate(time.Second)
	exists := filepath.Join(t.TempDir(), "there")
	if err := os.WriteFile(exists, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		want string // a key of sentinels
		also string // a second sentinel it wraps, or ""
		err  func() error
	}{
		{"bad invite", "ErrBadInvite", "", func() error { return join(Config{Invite: "p2pshare://not-an-invite"}) }},
		{"invite expired", "ErrInviteExpired", "", func() error { return join(Config{Invite: expired.String()}) }},
		{"invite used up", "ErrInviteUsedUp", "ErrRefused", func() error { return join(Config{Invite: usedUp}) }},
		{"name taken", "ErrNameTaken", "ErrRefused", func() error { return join(Config{Invite: invite(boot, InviteOptions{}), Name: "alice"}) }},
		{"invite's bootstrap of another network", "ErrWrongNetwork", "", func() error { return join(Config{Invite: misdirected.String()}) }},
		{"DataDir of another network", "ErrWrongNetwork", "", func() error {
			alice.Close()
			return join(Config{DataDir: aliceDir, Invite: invite(other, InviteOptions{})})
		}},
		{"revoked", "ErrRevoked", "", func() error { return join(Config{DataDir: revokedDir}) }},
		{"bad infohash", "ErrBadInfohash", "", func() error { _, err := ParseInfohash("bafy-not-an-infohash"); return err }},
		{"undefined infohash", "ErrBadInfohash", "", func() error {
			_, err := boot.Fetch(ctx, Infohash{}, FetchOptions{Out: filepath.Join(t.TempDir(), "x")})
			return err
		}},
		{"not found", "ErrNotFound", "", func() error {
			missing, _ := ParseInfohash("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
			_, err := boot.Fetch(ctx, missing, FetchOptions{Out: filepath.Join(t.TempDir(), "x"), LookupTimeout: time.Second})
			return err
		}},
		{"out exists", "fs.ErrExist", "", func() error { _, err := boot.Fetch(ctx, ih, FetchOptions{Out: exists}); return err }},
		{"share on a closed swarm", "ErrClosed", "", func() error { _, err := closed.Share(ctx, src, ShareOptions{}); return err }},
		{"fetch on a closed swarm", "ErrClosed", "", func() error {
			_, err := closed.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "x"), LookupTimeout: time.Second})
			return err
		}},
		{"invite from a member", "ErrNotBootstrap", "", func() error { _, err := closed.Invite(InviteOptions{}); return err }},
		{"revoke from a member", "ErrNotBootstrap", "", func() error { return closed.Revoke("alice") }},
		{"class from a member", "ErrNotBootstrap", "", func() error { _, err := closed.Class(ih); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			for name, s := range sentinels {
				if got, want := errors.Is(err, s), name == tc.want || name == tc.also; got != want {
					t.Errorf("errors.Is(err, %s) = %v, want %v; err: %v", name, got, want, err)
				}
			}
			if tc.also == "ErrRefused" {
				var r *RefusedError
				if !errors.As(err, &r) || r.Reason == "" || !strings.HasSuffix(err.Error(), r.Reason) {
					t.Errorf("%v: want a *RefusedError ending in the bootstrap's reason", err)
				}
			}
			text := err.Error()
			if !strings.HasPrefix(text, "p2pshare: ") || strings.Count(text, "p2pshare: ") > 1 ||
				strings.Contains(text, "membership:") || strings.Contains(text, "manifest:") {
				t.Errorf("text %q: want one p2pshare: prefix and no internal package names", text)
			}
			t.Logf("%s", text)
		})
	}
}

// revokedMember is the DataDir of a member revoked from a network, with
// the revocation list that lists it, as a member keeps the list once it
// hears of it.
func revokedMember(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	boot := testNode(t, nil, nil)
	dir := t.TempDir()
	m, err := New(ctx, Config{DataDir: dir, ListenAddrs: loopback(), Invite: mustInvite(t, boot), Name: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := boot.Revoke("mallory"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, memberDirName, "crl.der"), boot.net.m.CRL(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
