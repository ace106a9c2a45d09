// Tests of the example programs as a user runs them: built with go build,
// started as processes, talking over loopback, writing real files.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// deadline bounds each program a test runs.
const deadline = 45 * time.Second

// build compiles the example programs into a temporary folder, once for
// the whole test, and returns the path of each by name.
func build(t testing.TB, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+n)
	}
	// The toolchain that built this test, not whichever go is first on PATH.
	//lint:ignore SA1019 a test binary runs where it was built, so its GOROOT is meaningful.
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	bins := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if runtime.GOOS == "windows" {
			p += ".exe"
		}
		bins[n] = p
	}
	return bins
}

// userEnv is the environment of a program run by a user whose home is
// home: its per-user configuration folder (os.UserConfigDir), where the
// programs keep their data folders by default, is inside home, never the
// real user's.
func userEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"AppData="+filepath.Join(home, "AppData"))
}

// freshUser is userEnv of a new, empty home: each program run with it is
// a new user, with no data folder from an earlier run.
func freshUser(t testing.TB) []string { return userEnv(t.TempDir()) }

// result is how a program ended.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a program to its end, within deadline.
func run(t testing.TB, bin string, args ...string) result {
	t.Helper()
	return runWithin(t, deadline, bin, args...)
}

// runWithin runs a program to its end, within d.
func runWithin(t testing.TB, d time.Duration, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = freshUser(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("%s %s: %v (ctx: %v)\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, ctx.Err(), stderr.String())
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// seeder is a running seeder and what it printed.
type seeder struct {
	Infohash string   `json:"infohash"`
	Addrs    []string `json:"addrs"`
	Invite   string   `json:"invite"`
	// Admission is the bootstrap's mode of admission, in one line.
	Admission string `json:"admission"`
}

// startSeeder starts a seeder of file on loopback and reads its JSON line.
// At cleanup it interrupts the seeder and checks that it exits 0.
func startSeeder(t *testing.T, bin, file string, args ...string) seeder {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-file", file, "-listen", "/ip4/127.0.0.1/tcp/0"}, args...)...)
	cmd.Env = freshUser(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		if runtime.GOOS == "windows" {
			cmd.Process.Kill() // no SIGINT to send
			<-exited
			return
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Errorf("interrupting the seeder: %v", err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("seeder, interrupted: %v, want exit status 0\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(deadline):
			cmd.Process.Kill()
			t.Errorf("seeder still running %v after SIGINT", deadline)
			<-exited
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
				t.Errorf("seeder printed a second line on stdout: %s", sc.Text())
			}
		}
		exited <- cmd.Wait()
	}()
	var s seeder
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &s); err != nil || s.Infohash == "" || len(s.Addrs) == 0 || !strings.HasPrefix(s.Invite, "p2pshare://") {
			t.Fatalf("seeder printed %q: want {\"infohash\":…,\"addrs\":[…],\"invite\":\"p2pshare://…\"} (%v)", line, err)
		}
	case <-time.After(deadline):
		t.Fatalf("seeder printed nothing within %v\nstderr:\n%s", deadline, stderr.String())
	}
	return s
}

// loopbackAddr is the first of addrs on 127.0.0.1.
func loopbackAddr(t testing.TB, addrs []string) string {
	t.Helper()
	for _, a := range addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/") {
			return a
		}
	}
	t.Fatalf("no 127.0.0.1 address among %q", addrs)
	return ""
}

// randomFile writes size random bytes to a new file in dir.
func randomFile(t testing.TB, dir string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, "source.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// event is any of the leecher's -json lines.
type event struct {
	Event   string  `json:"event"`
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
	Total   int64   `json:"total"`
	Path    string  `json:"path"`
}

func events(t *testing.T, stdout string) []event {
	t.Helper()
	var out []event
	for line := range strings.Lines(stdout) {
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// goneInvite is an invite to a network whose bootstrap has already exited:
// a seeder runs in a subtest, prints its invite and is interrupted.
func goneInvite(t *testing.T, bin, file string) string {
	t.Helper()
	var inv string
	t.Run("short-lived seeder", func(t *testing.T) {
		inv = startSeeder(t, bin, file).Invite
	})
	return inv
}
