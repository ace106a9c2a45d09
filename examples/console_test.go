package examples_test

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeederConsole drives the bootstrap seeder's stdin: a member joins
// under a name, "revoke NAME" removes it, and an unknown name is refused.
func TestSeederConsole(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	cmd := exec.Command(bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0")
	cmd.Env = freshUser(t)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
	var s seeder
	out := bufio.NewScanner(stdout)
	if !out.Scan() || json.Unmarshal(out.Bytes(), &s) != nil {
		t.Fatalf("seeder printed no JSON line")
	}
	r := run(t, bin["leecher"], "-invite", s.Invite, "-name", "eve", "-infohash", s.Infohash,
		"-out", filepath.Join(dir, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
	if r.code != 0 {
		t.Fatalf("leecher: exit %d\n%s", r.code, r.stderr)
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for _, c := range []struct{ cmd, want string }{
		{"revoke eve", "seeder: revoked eve"},
		{"revoke nobody", "seeder: revoke nobody:"},
		{"dance", "unknown command"},
	} {
		if _, err := stdin.Write([]byte(c.cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case l := <-lines:
			if !strings.Contains(l, c.want) {
				t.Errorf("%q: seeder said %q, want %q", c.cmd, l, c.want)
			}
		case <-time.After(deadline):
			t.Fatalf("%q: no answer within %v", c.cmd, deadline)
		}
	}
}
