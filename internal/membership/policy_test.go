package membership

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNamePolicy: the decision alone, rule by rule.
func TestNamePolicy(t *testing.T) {
	list := namePolicy{Allow: map[string]bool{"s1001": true, "s1002": true}}
	capped := namePolicy{MaxPerAddr: 2}
	for _, tc := range []struct {
		name string
		p    namePolicy
		f    nameFacts
		want string // "" admits
	}{
		{"open", namePolicy{}, nameFacts{Name: "anyone", FromAddr: 500}, ""},
		{"on the list", list, nameFacts{Name: "s1001"}, ""},
		{"on the list by key", list, nameFacts{Name: "S1002"}, ""},
		{"off the list", list, nameFacts{Name: "s1003"}, `name "s1003" is not on this network's list of names`},
		{"empty list", namePolicy{Allow: map[string]bool{}}, nameFacts{Name: "s1001"}, "not on this network's list"},
		{"bound invite, its name", namePolicy{}, nameFacts{Name: "S1234", TokenName: "s1234"}, ""},
		{"bound invite, another name", namePolicy{}, nameFacts{Name: "s9999", Token: "ab", TokenName: "s1234"},
			`the invite with token ab is for "s1234" only, not "s9999"`},
		{"bound invite passes the list", list, nameFacts{Name: "s1234", TokenName: "s1234"}, ""},
		{"bound invite passes the cap", capped, nameFacts{Name: "s1234", TokenName: "s1234", FromAddr: 9}, ""},
		{"shared invite, name reserved", namePolicy{}, nameFacts{Name: "s1234", NameBound: true},
			`name "s1234" is reserved for the student's own invite`},
		{"reserved before the list", list, nameFacts{Name: "s1001", NameBound: true}, "reserved"},
		{"under the cap", capped, nameFacts{Name: "a", Addr: "10.0.0.1", FromAddr: 1}, ""},
		{"at the cap", capped, nameFacts{Name: "a", Addr: "10.0.0.1", FromAddr: 2},
			"address 10.0.0.1 already has 2 members admitted with a shared invite"},
	} {
		err := tc.p.check(tc.f)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want a refusal saying %q", tc.name, err, tc.want)
		}
	}
}

// TestAllowListKept: the allow-list, per-student invites and source
// addresses are kept in the registry: a restart keeps them, AllowName
// extends the list, and a registry written before these fields loads.
func TestAllowListKept(t *testing.T) {
	tn := newTestNet(t, func(c *BootstrapConfig) { c.AllowNames = []string{"s1001", "s1002"} })
	if err := tn.boot.Registry().AllowName("s1003"); err != nil {
		t.Fatal(err)
	}
	if err := tn.boot.Registry().AllowName("S1003"); err == nil {
		t.Error("S1003 added beside s1003")
	}
	bound := tn.invite(InviteOptions{Name: "s2000"})
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s1001", RoleStudent); err != nil {
		t.Fatal(err)
	}
	tn.stop()
	tn.start(nil) // no AllowNames: the kept list stays in force
	if got, ok := tn.boot.Registry().AllowNames(); !ok || strings.Join(got, ",") != "s1001,s1002,s1003" {
		t.Errorf("after a restart the list is %v (%v), want s1001,s1002,s1003", got, ok)
	}
	_, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s1004", RoleStudent)
	wantRefused(t, err, "not on this network's list")
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s1003", RoleStudent); err != nil {
		t.Fatalf("s1003, added at run time, after a restart: %v", err)
	}
	_, err = joinWith(t, newKey(t), tn.invite(InviteOptions{Uses: 5}), "s2000", RoleStudent)
	wantRefused(t, err, "reserved for the student's own invite")
	bound.Bootstrap = info(tn.bn.h) // its new port
	if _, err := joinWith(t, newKey(t), bound, "s2000", RoleStudent); err != nil {
		t.Fatalf("s2000 with its own invite after a restart: %v", err)
	}
	for _, m := range tn.boot.Registry().Members() {
		if m.Role == RoleStudent && m.From != "127.0.0.1" {
			t.Errorf("member %s recorded from %q, want 127.0.0.1", m.Name, m.From)
		}
	}
	if err := tn.boot.Registry().SetAllowNames([]string{"ok", "s1\u200b"}); err == nil || !strings.Contains(err.Error(), "allowed name 2 of 2") {
		t.Errorf("a bad name in the list: %v, want an error naming its position", err)
	}

	// A registry of the version before: no allow, from or token name.
	old := `{"format":1,"members":{},"tokens":{},"revoked":[],"crl_number":0}`
	path := filepath.Join(t.TempDir(), registryFile)
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenRegistry(path)
	if err != nil {
		t.Fatalf("a registry of the version before: %v", err)
	}
	if _, ok := r.AllowNames(); ok {
		t.Error("a registry of the version before has an allow-list")
	}
	if err := r.AllowName("s1"); err == nil {
		t.Error("AllowName with no list in force made one")
	}
}

// TestBoundInvite: an invite bound to a name admits that name once, and
// nobody else; it cannot be made for a name a member holds.
func TestBoundInvite(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{Name: "s1234"})
	_, err := joinWith(t, newKey(t), inv, "s9999", RoleStudent)
	wantRefused(t, err, `is for "s1234" only, not "s9999"`)
	if _, err := joinWith(t, newKey(t), inv, "s1234", RoleStudent); err != nil {
		t.Fatal(err)
	}
	_, err = joinWith(t, newKey(t), inv, "s1234", RoleStudent)
	wantRefused(t, err, "already held")
	if _, err := tn.boot.NewInvite(InviteOptions{Name: "s1234"}); err == nil || !strings.Contains(err.Error(), "already held by peer") {
		t.Errorf("an invite for a held name: %v", err)
	}
	if _, err := tn.boot.NewInvite(InviteOptions{Name: "s5", Uses: 3}); err == nil {
		t.Error("a bound invite of 3 uses was made")
	}
	// A cancelled bound invite reserves its name no more.
	c := tn.invite(InviteOptions{Name: "s77"})
	_, err = joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s77", RoleStudent)
	wantRefused(t, err, "reserved for the student's own invite")
	if err := tn.boot.CancelInvite(c.TokenIDString()); err != nil {
		t.Fatal(err)
	}
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{}), "s77", RoleStudent); err != nil {
		t.Errorf("s77 after its own invite was cancelled: %v", err)
	}
}

// TestMaxPerAddress: the cap counts members admitted with shared invites
// from one address; a per-student invite passes it.
func TestMaxPerAddress(t *testing.T) {
	tn := newTestNet(t, func(c *BootstrapConfig) { c.MaxPerAddress = 2 })
	shared := tn.invite(InviteOptions{Uses: 10})
	for _, n := range []string{"a", "b"} {
		if _, err := joinWith(t, newKey(t), shared, n, RoleStudent); err != nil {
			t.Fatal(err)
		}
	}
	_, err := joinWith(t, newKey(t), shared, "c", RoleStudent)
	wantRefused(t, err, "address 127.0.0.1 already has 2 members")
	if _, err := joinWith(t, newKey(t), tn.invite(InviteOptions{Name: "d"}), "d", RoleStudent); err != nil {
		t.Fatalf("a per-student invite past the cap: %v", err)
	}
}

// TestApprovalWaits: a newcomer is told it waits while the teacher
// decides; the callback's context ends when the newcomer hangs up.
func TestApprovalWaits(t *testing.T) {
	asked := make(chan Request, 1)
	decide := make(chan bool)
	ended := make(chan error, 1)
	tn := newTestNet(t, func(c *BootstrapConfig) {
		c.Approve = func(ctx context.Context, r Request) (bool, string) {
			asked <- r
			select {
			case ok := <-decide:
				return ok, "the teacher said no"
			case <-ctx.Done():
				ended <- ctx.Err()
				return false, ""
			}
		}
	})
	inv := tn.invite(InviteOptions{Uses: 5})
	join := func(ctx context.Context, name string, told chan<- string) error {
		h := plainHost(t, newKey(t))
		defer h.Close()
		_, err := Join(ctx, h, inv, JoinRequest{Name: name, Waiting: func(r string) { told <- r }})
		return err
	}
	for _, ok := range []bool{false, true} {
		told, res := make(chan string, 1), make(chan error, 1)
		go func() { res <- join(context.Background(), "s1", told) }()
		if r := <-asked; r.Name != "s1" || r.Addr != "127.0.0.1" {
			t.Errorf("asked about %+v", r)
		}
		if w := <-told; !strings.Contains(w, `waiting for the teacher to approve "s1"`) {
			t.Errorf("told %q", w)
		}
		decide <- ok
		err := <-res
		if ok && err != nil {
			t.Fatalf("approved: %v", err)
		}
		if !ok {
			wantRefused(t, err, "not approved: the teacher said no")
		}
	}
	// A newcomer that gives up withdraws its request.
	ctx, cancel := context.WithCancel(context.Background())
	told, res := make(chan string, 1), make(chan error, 1)
	go func() { res <- join(ctx, "s2", told) }()
	<-asked
	<-told
	cancel()
	if err := <-res; err == nil || !strings.Contains(err.Error(), "waiting for the teacher") {
		t.Errorf("a join given up while waiting: %v, want one saying it waited", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the approval's context ended with %v", err)
		}
	case <-time.After(waitBound):
		t.Error("the approval's context lives on after the newcomer hung up")
	}
}
