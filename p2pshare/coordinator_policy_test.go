package p2pshare

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newcomer joins with inv as name, and is closed at the test's end.
func newcomer(t *testing.T, inv, name string) (*Swarm, error) {
	t.Helper()
	s, err := New(context.Background(), Config{ListenAddrs: loopback(), Invite: inv, Name: name, JoinTimeout: 30 * time.Second})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// coCoordinator joins boot's network as name and becomes a coordinator.
func coCoordinator(t *testing.T, boot *Swarm, name, dir string) *Swarm {
	t.Helper()
	inv, err := boot.Invite(InviteOptions{Name: name})
	if err != nil {
		t.Fatalf("an invite for %s: %v", name, err)
	}
	s, err := New(context.Background(), Config{ListenAddrs: loopback(), Invite: inv, Name: name, Coordinator: true, DataDir: dir, JoinTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("%s, a co-coordinator: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestCoordinatorGroupKeepsNamePolicy: a bootstrap A with a coordinator
// group, a list of names and a cap per address, and a co-coordinator B.
// A name off the list is refused at both; a name added at B is admitted
// at A; the cap counts the admissions of both; a name bound to a
// per-student invite made at A cannot be taken with B's shared invite
// (and its own invite admits it, uncounted by the cap).
func TestCoordinatorGroupKeepsNamePolicy(t *testing.T) {
	dir := t.TempDir()
	a, err := New(context.Background(), Config{ListenAddrs: loopback(), NewNetwork: true, DataDir: filepath.Join(dir, "a"), Name: "teacher",
		Coordinators: []string{"ta"}, AllowNames: []string{"s1", "s2", "s3"}, MaxPerAddress: 2})
	if err != nil {
		t.Fatalf("a bootstrap with a coordinator group, a list of names and a cap: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	b := coCoordinator(t, a, "ta", filepath.Join(dir, "b")) // a per-student invite: not counted by the cap
	if got := b.Coordinators(); len(got) != 2 {
		t.Fatalf("b sees coordinators %v, want two", got)
	}
	invA, err := a.Invite(InviteOptions{Uses: 10})
	if err != nil {
		t.Fatal(err)
	}
	invB, err := b.Invite(InviteOptions{Uses: 10})
	if err != nil {
		t.Fatalf("an invite at b: %v", err)
	}
	at := map[string]string{"a": invA, "b": invB}
	steps := []struct {
		name string
		do   func() error
		want string // "" succeeds, else a piece of the error
	}{
		{"x1, off the list, at a", func() error { _, err := newcomer(t, at["a"], "x1"); return err }, `name "x1" is not on this network's list of names`},
		{"x1, off the list, at b", func() error { _, err := newcomer(t, at["b"], "x1"); return err }, `name "x1" is not on this network's list of names`},
		{"x1 added at b", func() error { return b.AllowName("x1") }, ""},
		{"x1 at a", func() error { _, err := newcomer(t, at["a"], "x1"); return err }, ""},
		{"s3's own invite at a", func() error { var err error; at["s3"], err = a.Invite(InviteOptions{Name: "s3"}); return err }, ""},
		{"s3 with b's shared invite", func() error { _, err := newcomer(t, at["b"], "s3"); return err }, `name "s3" is reserved for the student's own invite`},
		{"s3 with its own", func() error { _, err := newcomer(t, at["s3"], "s3"); return err }, ""},
		{"s1 at b: the second from 127.0.0.1", func() error { _, err := newcomer(t, at["b"], "s1"); return err }, ""},
		{"s2 at a: the third from 127.0.0.1", func() error { _, err := newcomer(t, at["a"], "s2"); return err }, "address 127.0.0.1 already has 2 members"},
		{"s2 at b: the third from 127.0.0.1", func() error { _, err := newcomer(t, at["b"], "s2"); return err }, "address 127.0.0.1 already has 2 members"},
	}
	for _, st := range steps {
		err := st.do()
		switch {
		case st.want == "" && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.want != "" && (err == nil || !strings.Contains(err.Error(), st.want)):
			t.Fatalf("%s: got %v, want an error containing %q", st.name, err, st.want)
		}
	}
	for _, s := range []*Swarm{a, b} {
		if names, on := s.AllowNames(); !on || len(names) != 4 {
			t.Errorf("%s: list %v (in force %v), want s1, s2, s3 and x1", s.cfg.Name, names, on)
		}
	}
}

// TestCoordinatorGroupImportsRegistry: a bootstrap that admitted s1 and
// s2 and revoked s2 restarts with a coordinator group; its co-coordinator
// B refuses s1's name and s2, and after A restarts again, what the group
// admitted since is still there: the registry was imported once.
func TestCoordinatorGroupImportsRegistry(t *testing.T) {
	dir := t.TempDir()
	adir := filepath.Join(dir, "a")
	a, err := New(context.Background(), Config{ListenAddrs: loopback(), NewNetwork: true, DataDir: adir, Name: "teacher"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := a.Invite(InviteOptions{Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"s1", "s2"} {
		s, err := newcomer(t, inv, n)
		if err != nil {
			t.Fatalf("%s joining the lone bootstrap: %v", n, err)
		}
		s.Close()
	}
	if err := a.Revoke("s2"); err != nil {
		t.Fatal(err)
	}
	// A comes back where it was, for B to find it again.
	addrs := a.AddrInfo().Addrs
	a.Close()

	restart := func() *Swarm {
		t.Helper()
		s, err := New(context.Background(), Config{ListenAddrs: addrs, NewNetwork: true, DataDir: adir, Name: "teacher", Coordinators: []string{"ta"}})
		if err != nil {
			t.Fatalf("a, restarted with a coordinator group: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a = restart()
	b := coCoordinator(t, a, "ta", filepath.Join(dir, "b"))
	invB, err := b.Invite(InviteOptions{Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{
		{"s1", `name "s1" is already held by peer`},
		{"s2", `name "s2" was revoked`},
		{"s3", ""},
	} {
		_, err := newcomer(t, invB, tc.name)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Fatalf("%s at b: %v, want %q", tc.name, err, tc.want)
		}
	}
	if rv := b.net.boot.Registry().Revoked(); len(rv) != 1 || rv[0].Name != "s2" {
		t.Fatalf("b's registry holds revocations %+v, want s2's", rv)
	}

	a.Close()
	a = restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var names []string
		for _, m := range a.net.boot.Registry().Members() {
			names = append(names, m.Name)
		}
		got := strings.Join(names, " ")
		if got == "s1 s3 ta teacher" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a, restarted again, holds members %q, want s1 s3 ta teacher (imported once)", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCoordinatorGroupApproval: the teacher approves at the bootstrap A;
// newcomers reach the co-coordinator B. The teacher's console is asked
// about each, and its answer decides at B; a join the teacher leaves
// open is decided by the TA at B, and the teacher's question is then
// withdrawn.
func TestCoordinatorGroupApproval(t *testing.T) {
	dir := t.TempDir()
	asked := make(chan string, 16)     // the names the teacher was asked about
	withdrawn := make(chan string, 16) // the questions that ended unanswered
	teacher := func(ctx context.Context, r JoinRequest) (bool, string) {
		asked <- r.Name
		switch r.Name {
		case "ta", "s1":
			return true, ""
		case "s2":
			return false, "not in my class"
		}
		<-ctx.Done() // the teacher is away: the TA answers
		withdrawn <- r.Name
		return false, ""
	}
	ta := func(ctx context.Context, r JoinRequest) (bool, string) {
		if r.Name != "s3" {
			<-ctx.Done() // the teacher answers these
			return false, ""
		}
		return true, ""
	}
	a, err := New(context.Background(), Config{ListenAddrs: loopback(), NewNetwork: true, DataDir: filepath.Join(dir, "a"), Name: "teacher",
		Coordinators: []string{"ta"}, Approve: teacher})
	if err != nil {
		t.Fatalf("a bootstrap with a coordinator group and approval: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	inv, err := a.Invite(InviteOptions{Name: "ta"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), Config{ListenAddrs: loopback(), Invite: inv, Name: "ta", Coordinator: true, DataDir: filepath.Join(dir, "b"),
		JoinTimeout: 30 * time.Second, Approve: ta})
	if err != nil {
		t.Fatalf("ta, a co-coordinator: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if got := recv(t, asked, "the teacher to be asked about ta"); got != "ta" {
		t.Fatalf("the teacher was asked about %q, want ta", got)
	}
	invB, err := b.Invite(InviteOptions{Uses: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{
		{"s1", ""},
		{"s2", "not approved: not in my class (teacher)"},
		{"s3", ""},
	} {
		_, err := newcomer(t, invB, tc.name)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Fatalf("%s at b: %v, want %q", tc.name, err, tc.want)
		}
		if got := recv(t, asked, "the teacher to be asked about "+tc.name); got != tc.name {
			t.Fatalf("the teacher was asked about %q, want %s", got, tc.name)
		}
	}
	if got := recv(t, withdrawn, "the teacher's question about s3 to be withdrawn"); got != "s3" {
		t.Fatalf("the teacher's question about %q was withdrawn, want s3's, which the TA answered", got)
	}
}

// recv waits for a value on ch, up to 30 seconds.
func recv(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
		return ""
	}
}
