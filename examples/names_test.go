package examples_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// Attacks on names: one holder of the class invite mints many identities
// and takes classmates' roll numbers. Each test runs a bootstrap seeder
// process and performs the attack against it: with the leecher where a
// student would, with the attacker's own code (a fresh libp2p host per
// identity, as a script would) where it mints identities by the dozen.

// mint joins the network of invite as name from a fresh identity, as an
// attacker's script does.
func mint(t *testing.T, invite, name string) error {
	t.Helper()
	inv, err := membership.ParseInvite(invite)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Key: k, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, MaxPeers: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err = membership.Join(ctx, h, inv, membership.JoinRequest{Name: name})
	return err
}

// TestAllowListStopsMinting: against -allow-names listing s1001…s1030, one
// holder of the class invite joins as s1001…s1060: the names on the list
// go in, every name past it is refused, and told it is not on the list.
// "allow NAME" adds a name, to the running network and to the file;
// "allow reload" reads the edited file again.
func TestAllowListStopsMinting(t *testing.T) {
	bin := build(t, "seeder")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	var list strings.Builder
	list.WriteString("# the class\n")
	for i := 1001; i <= 1030; i++ {
		fmt.Fprintf(&list, "s%d\n", i)
	}
	names := filepath.Join(dir, "class.txt")
	if err := os.WriteFile(names, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startConsole(t, bin["seeder"], src, "-allow-names", names, "-data", filepath.Join(dir, "seeder"))
	if !strings.HasPrefix(c.s.Admission, "admission: allow-list: the class invite admits the 30 listed names only") {
		t.Errorf("the seeder says %q, want it to say it admits the 30 listed names", c.s.Admission)
	}

	err := mint(t, c.s.Invite, "s1031")
	if !errors.Is(err, membership.ErrRefused) || !strings.Contains(err.Error(), `name "s1031" is not on this network's list of names`) {
		t.Fatalf("s1031, not listed: %v, want a refusal saying it is not on the list", err)
	}
	c.do("allow s1031", "seeder: allowed s1031")
	if err := mint(t, c.s.Invite, "s1031"); err != nil {
		t.Fatalf("s1031 once allowed: %v", err)
	}
	b, _ := os.ReadFile(names)
	if !strings.HasSuffix(string(b), "s1030\ns1031\n") {
		t.Errorf("allow s1031 left the file ending %q", b[max(0, len(b)-20):])
	}
	// The teacher takes s1030 off the file and reloads it.
	if err := os.WriteFile(names, []byte(strings.Replace(string(b), "s1030\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.do("allow reload", "seeder: allow reload: 30 names from")

	var admitted, refused []string
	for i := 1001; i <= 1060; i++ {
		name := fmt.Sprintf("s%d", i)
		if name == "s1031" {
			continue
		}
		err := mint(t, c.s.Invite, name)
		switch {
		case err == nil:
			admitted = append(admitted, name)
		case errors.Is(err, membership.ErrRefused):
			refused = append(refused, name)
			// Past 20 failures from one address the bootstrap refuses
			// before it looks at the name; that is a refusal too.
			if len(refused) == 1 && !strings.Contains(err.Error(), "not on this network's list") {
				t.Errorf("%s: %v, want a refusal saying it is not on the list", name, err)
			}
		default:
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(admitted) != 29 || admitted[0] != "s1001" || admitted[28] != "s1029" ||
		len(refused) != 30 || refused[0] != "s1030" || refused[1] != "s1032" {
		t.Errorf("admitted %v, refused %v: want s1001…s1029 in, s1030 and s1032…s1060 out", admitted, refused)
	}
}

// TestBoundInviteReservesName: the teacher prints an invite bound to
// s1234. A classmate holding the class invite tries to take s1234 first:
// refused, the name is reserved. Another student presenting s1234's invite
// under their own name: refused. s1234 then joins with it, once; a second
// join with it is refused.
func TestBoundInviteReservesName(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	c := startConsole(t, bin["seeder"], src, "-data", filepath.Join(dir, "seeder"))
	if !strings.HasPrefix(c.s.Admission, "admission: open invite") {
		t.Errorf("a fresh seeder says %q, want it to say it takes an open invite", c.s.Admission)
	}
	own := c.do("invite s1234", "p2pshare://")

	r := c.join(bin["leecher"], c.s.Invite, "s1234", filepath.Join(dir, "thief"))
	if r.code == 0 || !strings.Contains(r.stderr, `name "s1234" is reserved for the student's own invite`) {
		t.Errorf("a classmate taking s1234 with the class invite: exit %d, want a refusal saying the name is reserved\n%s", r.code, r.stderr)
	}
	r = c.join(bin["leecher"], own, "s6666", filepath.Join(dir, "other"))
	if r.code == 0 || !strings.Contains(r.stderr, `is for "s1234" only, not "s6666"`) {
		t.Errorf("s1234's invite under another name: exit %d, want a refusal saying whose it is\n%s", r.code, r.stderr)
	}
	if r := c.join(bin["leecher"], own, "s1234", filepath.Join(dir, "s1234")); r.code != 0 {
		t.Fatalf("s1234 with its own invite: exit %d\n%s", r.code, r.stderr)
	}
	r = c.join(bin["leecher"], own, "s1234", filepath.Join(dir, "again"))
	if r.code == 0 || !strings.Contains(r.stderr, "refused") {
		t.Errorf("s1234's invite a second time: exit %d, want a refusal\n%s", r.code, r.stderr)
	}
	c.do("invite s1234", `seeder: invite: name "s1234" is already held by peer`)
}

// TestApprovalHoldsJoins: with -approve a join waits, and the student is
// told so; "deny" refuses it with the teacher's reason, "approve" admits.
func TestApprovalHoldsJoins(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	c := startConsole(t, bin["seeder"], src, "-approve", "-data", filepath.Join(dir, "seeder"))
	if !strings.Contains(c.s.Admission, `approval: each join waits for "approve NAME"`) {
		t.Errorf("the seeder says %q, want it to say joins wait for approval", c.s.Admission)
	}
	leech := func(name string) <-chan result {
		return joinInBackground(t, bin["leecher"], c.s.Invite, name, filepath.Join(dir, name), c.s.Infohash)
	}
	wait := func(done <-chan result) result {
		t.Helper()
		select {
		case r := <-done:
			return r
		case <-time.After(deadline):
			t.Fatalf("the leecher did not end within %v", deadline)
			return result{}
		}
	}

	intruder := leech("intruder")
	c.expect("seeder: intruder asks to join")
	c.do("pending", "seeder: pending: intruder (peer ")
	c.do("deny intruder not in this class", "seeder: denied intruder")
	r := wait(intruder)
	if r.code == 0 || !strings.Contains(r.stderr, "not approved: not in this class") {
		t.Errorf("a denied join: exit %d, want a refusal with the teacher's reason\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `leecher: the network's bootstrap is waiting for the teacher to approve "intruder"`) {
		t.Errorf("the denied student was not told it waited:\n%s", r.stderr)
	}

	student := leech("s1234")
	c.expect("seeder: s1234 asks to join")
	c.do("approve s1234", "seeder: approved s1234")
	if r := wait(student); r.code != 0 {
		t.Errorf("an approved join: exit %d\n%s", r.code, r.stderr)
	}
	c.do("pending", "seeder: pending: no join waits for approval")
}

// TestMaxPerAddress: with -max-per-address 3, the class invite admits
// three identities from one address and refuses the fourth, saying why.
func TestMaxPerAddress(t *testing.T) {
	bin := build(t, "seeder")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	c := startConsole(t, bin["seeder"], src, "-max-per-address", "3", "-data", filepath.Join(dir, "seeder"))
	if !strings.Contains(c.s.Admission, "at most 3 members per address") {
		t.Errorf("the seeder says %q, want it to name the cap", c.s.Admission)
	}
	for i := 1; i <= 3; i++ {
		if err := mint(t, c.s.Invite, fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("identity %d of 3: %v", i, err)
		}
	}
	err := mint(t, c.s.Invite, "s4")
	if !errors.Is(err, membership.ErrRefused) || !strings.Contains(err.Error(), "address 127.0.0.1 already has 3 members") {
		t.Errorf("a fourth identity from 127.0.0.1: %v, want a refusal naming the cap", err)
	}
}

// TestApprovalAtCoCoordinator: a bootstrap with -approve and a
// co-coordinator started with -approve too (a TA's seeder). A student's
// join is put to both consoles, and the TA's "approve" at the
// co-coordinator admits it.
func TestApprovalAtCoCoordinator(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	a := startConsole(t, bin["seeder"], src, "-approve", "-coordinators", "ta-b", "-data", filepath.Join(dir, "a"))
	// The TA's own join waits for the teacher at A: answer it there while
	// B starts (nothing else reads A's console meanwhile).
	approvedB := make(chan error, 1)
	go func() {
		timeout := time.After(deadline)
		for {
			select {
			case l := <-a.lines:
				if strings.HasPrefix(l, "seeder: ta-b asks to join") {
					_, err := io.WriteString(a.stdin, "approve ta-b\n")
					approvedB <- err
					return
				}
			case <-timeout:
				approvedB <- fmt.Errorf("A never asked about ta-b's join")
				return
			}
		}
	}()
	b := startConsole(t, bin["seeder"], src, "-invite", a.s.Invite, "-name", "ta-b", "-coordinator", "-approve", "-data", filepath.Join(dir, "b"))
	if err := <-approvedB; err != nil {
		t.Fatal(err)
	}
	b.expect("seeder: the coordinator group has 2 coordinators")

	done := joinInBackground(t, bin["leecher"], a.s.Invite, "s1", filepath.Join(dir, "s1"), a.s.Infohash)
	b.expect("seeder: s1 asks to join")
	b.do("approve s1", "seeder: approved s1")
	select {
	case r := <-done:
		if r.code != 0 {
			t.Fatalf("s1, approved by the TA: exit %d\n%s", r.code, r.stderr)
		}
	case <-time.After(deadline):
		t.Fatalf("s1 did not end within %v after the TA approved it", deadline)
	}
}

// joinInBackground starts a leecher that joins with invite as name, keeping
// its folder in data, fetches infohash and exits; its result comes on the
// channel once it has.
func joinInBackground(t *testing.T, bin, invite, name, data, infohash string) <-chan result {
	t.Helper()
	cmd := exec.Command(bin, "-invite", invite, "-name", name, "-data", data, "-infohash", infohash,
		"-out", filepath.Join(data, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
	cmd.Env = freshUser(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	done := make(chan result, 1)
	go func() {
		_ = cmd.Wait()
		done <- result{code: cmd.ProcessState.ExitCode(), stderr: stderr.String()}
	}()
	return done
}
