package examples_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestMessageProgram: Alice joins and leaves; Bob writes to her by name
// while she is away, and leaves too; Alice's next run reads the message.
func TestMessageProgram(t *testing.T) {
	bins := build(t, "seeder", "message")
	dir := t.TempDir()
	file, _ := randomFile(t, dir, 64<<10)
	s := startSeeder(t, bins["seeder"], file, "-invite-uses", "5")
	loop := "/ip4/127.0.0.1/tcp/0"
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")

	if r := run(t, bins["message"], "-invite", s.Invite, "-data", alice, "-name", "alice", "-listen", loop, "read", "-count", "0", "-wait", "0"); r.code != 0 {
		t.Fatalf("alice joining: exit %d\n%s", r.code, r.stderr)
	}
	r := run(t, bins["message"], "-invite", s.Invite, "-data", bob, "-name", "bob", "-listen", loop, "send", "alice", "lab", "moved", "to", "B-204")
	if r.code != 0 {
		t.Fatalf("bob sending: exit %d\n%s", r.code, r.stderr)
	}
	var receipt struct {
		Direct bool `json:"direct"`
		Parked int  `json:"parked"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &receipt); err != nil || receipt.Direct || receipt.Parked == 0 {
		t.Fatalf("receipt %q (%v): want parked for an offline recipient", r.stdout, err)
	}
	r = run(t, bins["message"], "-data", alice, "-listen", loop, "read", "-count", "1", "-wait", "60s")
	if r.code != 0 {
		t.Fatalf("alice reading: exit %d\n%s", r.code, r.stderr)
	}
	var m struct{ Name, Body string }
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Name != "bob" || m.Body != "lab moved to B-204" {
		t.Fatalf("alice read %q (%v)", r.stdout, err)
	}
	// Bad usage: exit 2, the reason on the first line, then the usage.
	r = run(t, bins["message"], "-data", bob, "send", "alice")
	if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != 2 || !strings.Contains(first, "recipient") {
		t.Fatalf("send without text: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestMessageReadOneAtATime: Bob writes Alice two messages while she is
// offline. A run that only joins leaves both waiting; "read -count 1"
// shows the first, and the next "read -count 1" the second.
func TestMessageReadOneAtATime(t *testing.T) {
	bins := build(t, "seeder", "message")
	dir := t.TempDir()
	file, _ := randomFile(t, dir, 64<<10)
	s := startSeeder(t, bins["seeder"], file, "-invite-uses", "5")
	loop := "/ip4/127.0.0.1/tcp/0"
	alice, bob := filepath.Join(dir, "alice"), filepath.Join(dir, "bob")

	if r := run(t, bins["message"], "-invite", s.Invite, "-data", alice, "-name", "alice", "-listen", loop, "read", "-count", "0", "-wait", "0"); r.code != 0 {
		t.Fatalf("alice joining: exit %d\n%s", r.code, r.stderr)
	}
	for i, text := range []string{"first: lab moved to B-204", "second: bring a pencil"} {
		args := []string{"-data", bob, "-listen", loop, "send", "alice", text}
		if i == 0 {
			args = append([]string{"-invite", s.Invite, "-name", "bob"}, args...)
		}
		if r := run(t, bins["message"], args...); r.code != 0 {
			t.Fatalf("bob sending %q: exit %d\n%s", text, r.code, r.stderr)
		}
	}
	if r := run(t, bins["message"], "-data", alice, "-listen", loop, "read", "-count", "0", "-wait", "0"); r.code != 0 || r.stdout != "" {
		t.Fatalf("alice reading none: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"first: lab moved to B-204", "second: bring a pencil"} {
		r := run(t, bins["message"], "-data", alice, "-listen", loop, "read", "-count", "1", "-wait", "30s")
		var m struct{ Name, Body string }
		if err := json.Unmarshal([]byte(r.stdout), &m); r.code != 0 || err != nil || m.Name != "bob" || m.Body != want {
			t.Fatalf("alice reading one: exit %d, stdout %q (%v), want %q\n%s", r.code, r.stdout, err, want, r.stderr)
		}
	}
}
