package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// userProc is a program run by a user (its home, its working folder),
// whose stdout lines arrive on lines.
type userProc struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan struct{} // closed once the process is reaped
	stderr bytes.Buffer
}

func startAs(t *testing.T, home, dir, bin string, args ...string) *userProc {
	t.Helper()
	p := &userProc{cmd: exec.Command(bin, args...), lines: make(chan string, 64), exited: make(chan struct{})}
	p.cmd.Env, p.cmd.Dir, p.cmd.Stderr = userEnv(home), dir, &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// interrupt sends SIGINT and returns the exit status.
func (p *userProc) interrupt(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	return p.wait(t)
}

func (p *userProc) wait(t *testing.T) int {
	t.Helper()
	for range p.lines {
	}
	select {
	case <-p.exited:
	case <-time.After(deadline):
		p.cmd.Process.Kill()
		t.Fatalf("still running %v after it was told to stop\nstderr:\n%s", deadline, &p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// heldPieces is how many pieces the state file beside out records as
// held; 0 if there is none yet (see claimedPieces for its layout).
func heldPieces(out string) int {
	const magic = "p2pshare state v1\n"
	b, err := os.ReadFile(out + ".p2pshare-state")
	if err != nil || len(b) < len(magic)+36 || !strings.HasPrefix(string(b), magic) {
		return 0
	}
	pieces := int(binary.BigEndian.Uint32(b[len(magic)+32:]))
	bits, n := b[len(magic)+36:], 0
	for i := 0; i < pieces && i/8 < len(bits); i++ {
		if bits[i/8]&(0x80>>(i%8)) != 0 {
			n++
		}
	}
	return n
}

// TestLeecherRerunResumes follows the README as a student would: run the
// leecher command it gives, press Ctrl-C once some pieces arrived, run
// the very same command again. The second run goes on as the same member
// (the invite had one use, which the first run spent) and completes the
// file. Then a student whose data folder is gone (another home) runs the
// command and is told what to do about the name it held.
func TestLeecherRerunResumes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	bins := build(t, "seeder", "leecher")
	src, want := randomFile(t, t.TempDir(), 8<<20)
	// A seeder slow enough that the first run is interrupted half way.
	s := startSeeder(t, bins["seeder"], src, "-up", "2MiB", "-invite-uses", "1")
	home, work := t.TempDir(), t.TempDir()
	readme := []string{"-invite", s.Invite, "-name", "s1234", "-infohash", s.Infohash, "-out", "lab4.qcow2"}
	out := filepath.Join(work, "lab4.qcow2")

	first := startAs(t, home, work, bins["leecher"], readme...)
	waitFor(t, "the first run to hold a piece", first, func() bool { return heldPieces(out) > 0 })
	if code := first.interrupt(t); code != 130 || !strings.Contains(first.stderr.String(), "run again with the same command to resume") {
		t.Fatalf("first run, interrupted: exit %d, want 130 and a word on resuming\nstderr:\n%s", code, &first.stderr)
	}
	held := heldPieces(out)
	if _, err := os.Stat(out); err == nil || held == 0 {
		t.Fatalf("after the interrupt: %d pieces held, %s exists: %v; want some pieces and no finished file", held, out, err)
	}

	second := startAs(t, home, work, bins["leecher"], readme...)
	select {
	case line, ok := <-second.lines:
		if !ok || !strings.HasPrefix(line, "fetched ") {
			t.Fatalf("second run printed %q (open %v), want the summary line\nstderr:\n%s", line, ok, &second.stderr)
		}
	case <-time.After(deadline):
		t.Fatalf("second run did not finish within %v\nstderr:\n%s", deadline, &second.stderr)
	}
	if code := second.interrupt(t); code != 0 {
		t.Fatalf("second run, seeding, interrupted: exit %d, want 0\nstderr:\n%s", code, &second.stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the file after the rerun: %d bytes, %v; want the source's %d", len(got), err, len(want))
	}

	t.Run("lost folder", func(t *testing.T) {
		lost := startAs(t, t.TempDir(), t.TempDir(), bins["leecher"], readme...)
		code := lost.wait(t)
		msg := lost.stderr.String()
		for _, w := range []string{`name "s1234" is already held by peer`, "-data", "free the name"} {
			if !strings.Contains(msg, w) {
				t.Errorf("stderr does not say %q", w)
			}
		}
		if code != 6 || strings.Count(msg, "\n") != 1 {
			t.Errorf("exit %d, want 6 (name_taken), and one line\nstderr:\n%s", code, msg)
		}
	})
}

// waitFor polls cond until it holds, failing past deadline or if p exits.
func waitFor(t *testing.T, what string, p *userProc, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: none within %v\nstderr:\n%s", what, deadline, &p.stderr)
		case <-p.exited:
			t.Fatalf("waiting for %s: the program exited %d\nstderr:\n%s", what, p.cmd.ProcessState.ExitCode(), &p.stderr)
		case <-tick.C:
		}
	}
}

// TestLeecherExitCodes runs the leecher into errors a script acts on and
// checks its exit status, its -json "error" event and that the message
// reads without the library's package chain.
func TestLeecherExitCodes(t *testing.T) {
	bins := build(t, "seeder", "leecher")
	src, _ := randomFile(t, t.TempDir(), 64<<10)
	s := startSeeder(t, bins["seeder"], src, "-invite-uses", "1")
	dir := t.TempDir()
	if r := run(t, bins["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", filepath.Join(dir, "first"), "-exit-when-done"); r.code != 0 {
		t.Fatalf("the invite's one use: exit %d\n%s", r.code, r.stderr)
	}
	exists := filepath.Join(dir, "first")
	cases := []struct {
		name, kind, says string
		code             int
		args             []string
	}{
		{"bad invite", "bad_invite", "-invite: invite is not base64url", 3, []string{"-invite", "p2pshare://not-an-invite", "-infohash", s.Infohash, "-out", filepath.Join(dir, "a")}},
		{"used up", "invite_used_up", "no uses left", 5, []string{"-invite", s.Invite, "-infohash", s.Infohash, "-out", filepath.Join(dir, "b")}},
		{"bad infohash", "bad_infohash", `-infohash: infohash "bafy-nope"`, 10, []string{"-invite", s.Invite, "-infohash", "bafy-nope", "-out", filepath.Join(dir, "c")}},
		{"out exists", "out_exists", "-out " + exists + " already exists", 13, []string{"-invite", s.Invite, "-infohash", s.Infohash, "-out", exists}},
		{"bad flags", "usage", "-stall-timeout -1s is negative", 2, []string{"-invite", s.Invite, "-infohash", s.Infohash, "-out", filepath.Join(dir, "d"), "-stall-timeout", "-1s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, bins["leecher"], append(tc.args, "-json")...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			var e struct {
				Event, Kind, Error string
				Code               int
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Event != "error" || e.Code != tc.code || e.Kind != tc.kind {
				t.Errorf("last stdout line %q (%v), want an error event with code %d, kind %q", lines[len(lines)-1], err, tc.code, tc.kind)
			}
			if !strings.Contains(e.Error, tc.says) || !strings.Contains(r.stderr, "leecher: "+e.Error) {
				t.Errorf("error %q does not say %q, or is not stderr's line %q", e.Error, tc.says, r.stderr)
			}
			for _, chain := range []string{"p2pshare: ", "membership: ", "manifest: "} {
				if strings.Contains(r.stderr, chain) {
					t.Errorf("stderr names %s: %s", chain, r.stderr)
				}
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		r := run(t, bins["leecher"], "-h")
		for _, w := range []string{"exit status:", "  5    invite_used_up", "  130  interrupted", filepath.Join("p2pshare", "leecher")} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("-h does not say %q", w)
			}
		}
	})
}

// TestDefaultFolders: with no -data, a bootstrap seeder run again on the
// same file goes on with the same network, and message, once joined, needs
// no invite: each keeps its folder under the user's configuration folder.
func TestDefaultFolders(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	bins := build(t, "seeder", "message")
	src, _ := randomFile(t, t.TempDir(), 64<<10)
	teacher := t.TempDir()
	network := func() string {
		p := startAs(t, teacher, t.TempDir(), bins["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0")
		var s seeder
		select {
		case line := <-p.lines:
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("seeder printed %q: %v", line, err)
			}
		case <-time.After(deadline):
			t.Fatalf("seeder printed nothing\nstderr:\n%s", &p.stderr)
		}
		inv, err := p2pshare.ParseInvite(s.Invite)
		if err != nil {
			t.Fatal(err)
		}
		if code := p.interrupt(t); code != 0 {
			t.Fatalf("seeder interrupted: exit %d\nstderr:\n%s", code, &p.stderr)
		}
		return inv.Network
	}
	if a, b := network(), network(); a != b {
		t.Errorf("the seeder run twice on one file started networks %.16s… and %.16s…, want one", a, b)
	}

	s := startSeeder(t, bins["seeder"], src)
	alice := t.TempDir()
	for i, args := range [][]string{
		{"-invite", s.Invite, "-name", "alice", "-listen", "/ip4/127.0.0.1/tcp/0", "read", "-count", "0", "-wait", "0"},
		{"-listen", "/ip4/127.0.0.1/tcp/0", "read", "-count", "0", "-wait", "0"},
	} {
		p := startAs(t, alice, t.TempDir(), bins["message"], args...)
		if code := p.wait(t); code != 0 {
			t.Fatalf("message run %d: exit %d\nstderr:\n%s", i+1, code, &p.stderr)
		}
	}
}
