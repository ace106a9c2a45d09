package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRefusalKinds runs real admissions that the bootstrap refuses and
// checks that the newcomer can tell the kind of each refusal by errors.Is,
// and that the text is the bootstrap's reason without a package chain.
func TestRefusalKinds(t *testing.T) {
	tn := newTestNet(t, nil)
	alice := tn.member("alice")
	usedUp := tn.invite(InviteOptions{Uses: 1})
	if _, err := joinWith(t, newKey(t), usedUp, "s1", RoleStudent); err != nil {
		t.Fatal(err)
	}
	unknown := tn.invite(InviteOptions{})
	unknown.TokenID[0] ^= 1
	late := tn.invite(InviteOptions{TTL: time.Hour})

	cases := []struct {
		name   string
		join   func() error
		kind   error // nil: a refusal of no particular kind
		reason string
	}{
		{"used up", func() error {
			_, err := joinWith(t, newKey(t), usedUp, "s2", RoleStudent)
			return err
		}, ErrUsedUp, "no uses left"},
		{"unknown token", func() error {
			_, err := joinWith(t, newKey(t), unknown, "s3", RoleStudent)
			return err
		}, ErrUsedUp, "not known"},
		{"name held", func() error {
			_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "alice", RoleStudent)
			return err
		}, ErrNameTaken, "already held by peer " + alice.id.String()},
		{"invite cancelled", func() error {
			inv := tn.invite(InviteOptions{})
			if err := tn.boot.CancelInvite(inv.TokenIDString()); err != nil {
				t.Fatal(err)
			}
			_, err := joinWith(t, newKey(t), inv, "s6", RoleStudent)
			return err
		}, ErrUsedUp, "was cancelled by the teacher"},
		{"name revoked", func() error {
			tn.member("s7")
			if err := tn.boot.Revoke("s7"); err != nil {
				t.Fatal(err)
			}
			_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "S7", RoleStudent)
			return err
		}, ErrNameTaken, `name "S7" was revoked (as "s7"`},
		{"name not allowed", func() error {
			_, err := rawJoin(t, newKey(t), tn.invite(InviteOptions{}), "s1\u200b")
			return err
		}, ErrBadName, `character 3, '\u200b' (U+200B), is invisible`},
		{"name bound to an invite", func() error {
			tn.invite(InviteOptions{Name: "s8"})
			_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s8", RoleStudent)
			return err
		}, ErrNameTaken, `name "s8" is reserved for the student's own invite`},
		{"invite for another name", func() error {
			_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{Name: "s9"}), "s10", RoleStudent)
			return err
		}, nil, `is for "s9" only, not "s10"`},
		{"wrong role", func() error {
			_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s4", RoleTeacher)
			return err
		}, nil, "admits a student, not a teacher"},
		// Last: it moves the bootstrap's clock past the invite's expiry.
		{"expired", func() error {
			tn.clock.Advance(2 * time.Hour)
			_, err := joinWith(t, newKey(t), late, "s5", RoleStudent)
			return err
		}, ErrExpired, "expired at"},
	}
	kinds := []error{ErrUsedUp, ErrNameTaken, ErrExpired, ErrBadName}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.join()
			var r *RefusalError
			if !errors.As(err, &r) || !errors.Is(err, ErrRefused) {
				t.Fatalf("join: %v, want a *RefusalError wrapping ErrRefused", err)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", r.Reason, tc.reason)
			}
			for _, k := range kinds {
				if got, want := errors.Is(err, k), k == tc.kind; got != want {
					t.Errorf("errors.Is(%q, %v) = %v, want %v", err, k, got, want)
				}
			}
			if strings.Contains(err.Error(), "membership:") {
				t.Errorf("error %q names the package", err)
			}
		})
	}
}
