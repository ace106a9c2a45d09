package examples_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// console is a bootstrap seeder driven through its stdin, as a teacher
// does.
type console struct {
	t     testing.TB
	s     seeder
	stdin io.WriteCloser
	lines chan string // the seeder's stderr, line by line
	cmd   *exec.Cmd
}

// startConsole starts a bootstrap seeder of file with its stdin open,
// with further flags args.
func startConsole(t testing.TB, bin, file string, args ...string) *console {
	t.Helper()
	return startConsoleCmd(t, exec.Command(bin, append([]string{"-file", file, "-listen", "/ip4/127.0.0.1/tcp/0"}, args...)...))
}

// startConsoleCmd starts cmd, a bootstrap seeder, as startConsole does.
func startConsoleCmd(t testing.TB, cmd *exec.Cmd) *console {
	t.Helper()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	c := &console{t: t, stdin: stdin, lines: make(chan string, 256), cmd: cmd}
	out := bufio.NewScanner(stdout)
	if !out.Scan() || json.Unmarshal(out.Bytes(), &c.s) != nil {
		t.Fatalf("seeder printed no JSON line")
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// do types cmd and waits for the seeder's line that says want, which it
// returns.
func (c *console) do(cmd, want string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatal(err)
	}
	return c.expect(want)
}

// expect waits for the seeder's line that says want, and returns it.
func (c *console) expect(want string) string {
	c.t.Helper()
	timeout := time.After(deadline)
	var seen []string
	for {
		select {
		case l := <-c.lines:
			if strings.Contains(l, want) {
				return l
			}
			seen = append(seen, l)
		case <-timeout:
			c.t.Fatalf("the seeder did not say %q within %v; it said:\n%s", want, deadline, strings.Join(seen, "\n"))
		}
	}
}

// join runs a leecher that joins with invite as name from the data folder
// data, fetches the share and exits.
func (c *console) join(leecher, invite, name, data string) result {
	c.t.Helper()
	return run(c.t, leecher, "-invite", invite, "-name", name, "-data", data, "-infohash", c.s.Infohash,
		"-out", filepath.Join(data, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
}

// TestLookalikeNameRefused: after s1234 joined, a second student asking
// for S1234, ſ1234 (long s) or s1234 with a zero-width space is refused,
// and told which character is wrong.
func TestLookalikeNameRefused(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	c := startConsole(t, bin["seeder"], src)
	if r := c.join(bin["leecher"], c.s.Invite, "s1234", filepath.Join(dir, "first")); r.code != 0 {
		t.Fatalf("s1234 joining: exit %d\n%s", r.code, r.stderr)
	}
	for i, tc := range []struct{ name, want string }{
		{"S1234", `name "S1234" is already held by peer`},
		{"ſ1234", `character 1, 'ſ' (U+017F), is a compatibility form of "s"`},
		{"s1234\u200b", `character 6, '\u200b' (U+200B), is invisible`},
	} {
		r := c.join(bin["leecher"], c.s.Invite, tc.name, filepath.Join(dir, "second", string(rune('a'+i))))
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("a second student as %q: exit %d, want a refusal saying %q\n%s", tc.name, r.code, tc.want, r.stderr)
		}
	}
}
