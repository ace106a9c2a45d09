package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runEnv is run with env added to a fresh user's environment.
func runEnv(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(freshUser(t), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("%s %s: %v (ctx: %v)\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestLeecherStartEventNamesItself: the -json start event carries the
// leecher's peer ID and its listen addresses, each ending in that ID.
func TestLeecherStartEventNamesItself(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	s := startSeeder(t, bin["seeder"], src)
	r := run(t, bin["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", filepath.Join(dir, "copy"),
		"-listen", "/ip4/127.0.0.1/tcp/0", "-json", "-exit-when-done")
	if r.code != 0 {
		t.Fatalf("leecher: exit %d\n%s", r.code, r.stderr)
	}
	first, _, _ := strings.Cut(r.stdout, "\n")
	var start struct {
		Event, Peer string
		Addrs       []string
	}
	if err := json.Unmarshal([]byte(first), &start); err != nil || start.Event != "start" {
		t.Fatalf("first event %q: want a start event (%v)", first, err)
	}
	if !strings.HasPrefix(start.Peer, "12D3") {
		t.Errorf("start event %s: peer %q is not a peer ID", first, start.Peer)
	}
	if len(start.Addrs) == 0 {
		t.Errorf("start event %s: no addrs", first)
	}
	for _, a := range start.Addrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") || !strings.HasSuffix(a, "/p2p/"+start.Peer) {
			t.Errorf("start event addr %q: want /ip4/127.0.0.1/tcp/…/p2p/%s", a, start.Peer)
		}
	}
}

// TestFlagsFromEnvironment: the invite comes from P2PSHARE_INVITE when
// -invite is absent, and a flag on the command line wins over its
// variable (P2PSHARE_INFOHASH names no share here).
func TestFlagsFromEnvironment(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 64<<10)
	s := startSeeder(t, bin["seeder"], src)
	out := filepath.Join(dir, "copy")
	r := runEnv(t, []string{"P2PSHARE_INVITE=" + s.Invite, "P2PSHARE_INFOHASH=not-an-infohash", "P2PSHARE_EXIT_WHEN_DONE=true"},
		bin["leecher"], "-infohash", s.Infohash, "-out", out, "-listen", "/ip4/127.0.0.1/tcp/0")
	if r.code != 0 {
		t.Fatalf("leecher with P2PSHARE_INVITE: exit %d\n%s", r.code, r.stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the source (%v)", err)
	}

	r = runEnv(t, []string{"P2PSHARE_UP=fast"}, bin["leecher"], "-infohash", s.Infohash, "-out", filepath.Join(dir, "other"))
	if r.code != 2 || !strings.Contains(r.stderr, `P2PSHARE_UP="fast"`) {
		t.Errorf("a bad P2PSHARE_UP: exit %d, stderr %q; want 2 and a message naming the variable", r.code, r.stderr)
	}
	if h := run(t, bin["leecher"], "-h"); !strings.Contains(h.stderr, "P2PSHARE_INVITE") {
		t.Errorf("leecher -h does not tell of the environment:\n%s", h.stderr)
	}
}

// TestLogLevel: -log-level debug writes debug lines on stderr, and error
// keeps even the info lines back.
func TestLogLevel(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	s := startSeeder(t, bin["seeder"], src)
	for _, tc := range []struct {
		level     string
		want, not string
	}{
		{"debug", "level=DEBUG", ""},
		{"info", "level=INFO", "level=DEBUG"},
		{"error", "", "level=INFO"},
	} {
		r := run(t, bin["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", filepath.Join(dir, tc.level),
			"-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done", "-log-level", tc.level)
		if r.code != 0 {
			t.Fatalf("-log-level %s: exit %d\n%s", tc.level, r.code, r.stderr)
		}
		if tc.want != "" && !strings.Contains(r.stderr, tc.want) {
			t.Errorf("-log-level %s: no %s line on stderr:\n%s", tc.level, tc.want, r.stderr)
		}
		if tc.not != "" && strings.Contains(r.stderr, tc.not) {
			t.Errorf("-log-level %s: a %s line on stderr:\n%s", tc.level, tc.not, r.stderr)
		}
	}
	if r := run(t, bin["leecher"], "-log-level", "loud", "-infohash", s.Infohash, "-out", filepath.Join(dir, "x")); r.code != 2 || !strings.Contains(r.stderr, `"loud"`) {
		t.Errorf("-log-level loud: exit %d, stderr %q; want 2 naming the value", r.code, r.stderr)
	}
}

// TestSecondInterruptQuits: the first SIGINT starts a clean shutdown and
// says so; a second one, while that shutdown still runs (held here by a
// client of the class page that never sends its request), quits at once
// with status 130 and says so.
func TestSecondInterruptQuits(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	bin := build(t, "seeder")
	src, _ := randomFile(t, t.TempDir(), 64<<10)
	cmd := exec.Command(bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0", "-http", "127.0.0.1:0")
	cmd.Env = freshUser(t)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var s pageSeeder
	if sc := bufio.NewScanner(stdout); !sc.Scan() || json.Unmarshal(sc.Bytes(), &s) != nil || s.HTTP == "" {
		t.Fatalf("seeder printed no JSON line with its page's address")
	}
	c, err := net.Dial("tcp", s.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	exited := make(chan error, 1)
	go func() { _, _ = io.Copy(io.Discard, stdout); exited <- cmd.Wait() }()

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var said []string
	wait := func(want string) {
		t.Helper()
		timeout := time.After(deadline)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("seeder's stderr ended before %q; it said %q", want, said)
				}
				said = append(said, l)
				if strings.Contains(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("seeder did not say %q within %v; it said %q", want, deadline, said)
			}
		}
	}
	wait("stopping cleanly; interrupt again to quit at once")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	wait("quitting at once")
	for l := range lines {
		said = append(said, l)
	}
	err = <-exited
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("seeder after a second SIGINT: %v, want exit status 130; it said %q", err, said)
	}
}
