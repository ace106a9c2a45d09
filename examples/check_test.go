package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkEvent is a leecher -json line as the -check test reads it.
type checkEvent struct {
	Event      string `json:"event"`
	Pieces     int    `json:"pieces"`
	Bytes      int64  `json:"bytes"`
	Downloaded int64  `json:"downloaded"`
	Uploaded   int64  `json:"uploaded"`
	Kind       string `json:"kind"`
	Error      string `json:"error"`
}

// nextEvent is p's next -json line, failing t past deadline or at exit.
func nextEvent(t *testing.T, p *userProc) checkEvent {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatalf("the leecher exited\nstderr:\n%s", &p.stderr)
		}
		var e checkEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", line, err)
		}
		return e
	case <-time.After(deadline):
		t.Fatalf("no line from the leecher within %v\nstderr:\n%s", deadline, &p.stderr)
	}
	panic("unreachable")
}

// TestLeecherCheckSeedsWhatItHas: a member with the whole file already on
// disk (a finished download, after a reboot) runs the leecher with -check:
// it verifies the file, downloads nothing, and seeds it — a third member,
// whom the seeder serves at a trickle, gets the share from it. A copy with
// a flipped byte is refused with exit status 15, naming the first bad
// piece, and left as it was; without -check an existing -out is refused as
// before, pointing at -check.
func TestLeecherCheckSeedsWhatItHas(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send on Windows")
	}
	bins := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 2<<20)
	// At 1000 bytes/s the seeder would take half an hour: whoever gets
	// the share within the test's deadline got it from the checked copy.
	s := startSeeder(t, bins["seeder"], src, "-up", "1000")
	home, work := t.TempDir(), t.TempDir()
	have := filepath.Join(work, "lab.img")
	if err := os.WriteFile(have, want, 0o644); err != nil {
		t.Fatal(err)
	}
	stamp := func(p string) string {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(fi.Size(), fi.ModTime(), fi.Mode())
	}
	haveStamp := stamp(have)

	checker := startAs(t, home, work, bins["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", "lab.img", "-check", "-json")
	start := nextEvent(t, checker)
	if start.Event != "start" || start.Pieces < 2 {
		t.Fatalf("first event %+v, want a start event with the share's pieces", start)
	}
	e := nextEvent(t, checker)
	for ; e.Event != "done"; e = nextEvent(t, checker) {
		if e.Event != "progress" {
			t.Fatalf("event %+v before done", e)
		}
	}
	if e.Downloaded != 0 || e.Bytes != int64(len(want)) {
		t.Fatalf("done event %+v, want all %d bytes held and none downloaded", e, len(want))
	}

	third := filepath.Join(dir, "third.img")
	if r := run(t, bins["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", third, "-exit-when-done"); r.code != 0 {
		t.Fatalf("third member: exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if got, err := os.ReadFile(third); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("third member's file: %d bytes, %v; want the %d shared bytes", len(got), err, len(want))
	}
	for e := nextEvent(t, checker); e.Uploaded < int64(len(want))/2; e = nextEvent(t, checker) {
	}
	if code := checker.interrupt(t); code != 0 {
		t.Fatalf("checker, seeding, interrupted: exit %d, want 0\nstderr:\n%s", code, &checker.stderr)
	}
	if stamp(have) != haveStamp {
		t.Errorf("-check changed %s", have)
	}

	t.Run("tampered", func(t *testing.T) {
		pieceSize := (len(want) + start.Pieces - 1) / start.Pieces
		bad := bytes.Clone(want)
		bad[5*pieceSize+7] ^= 1
		p := filepath.Join(t.TempDir(), "lab.img")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		before := stamp(p)
		r := run(t, bins["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", p, "-check", "-json")
		t.Logf("stderr: %s", r.stderr)
		if r.code != 15 {
			t.Errorf("exit %d, want 15 (mismatch)\nstderr:\n%s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var e checkEvent
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Event != "error" || e.Kind != "mismatch" {
			t.Errorf("last stdout line %q (%v), want an error event of kind mismatch", lines[len(lines)-1], err)
		}
		for _, w := range []string{fmt.Sprintf("%d of %d pieces match", start.Pieces-1, start.Pieces), "first bad piece is 5", "left as it was"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr does not say %q: %s", w, r.stderr)
			}
		}
		for _, chain := range []string{"p2pshare: ", "storage: "} {
			if strings.Contains(r.stderr, chain) {
				t.Errorf("stderr names %s: %s", chain, r.stderr)
			}
		}
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, bad) || stamp(p) != before {
			t.Errorf("the refused copy changed (%v)", err)
		}
	})
	t.Run("without -check", func(t *testing.T) {
		r := run(t, bins["leecher"], "-invite", s.Invite, "-infohash", s.Infohash, "-out", have)
		if r.code != 13 || !strings.Contains(r.stderr, "-check verifies it and seeds it") {
			t.Errorf("exit %d, want 13 and a word on -check\nstderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		r := run(t, bins["leecher"], "-h")
		for _, w := range []string{"-check", "if -out exists, verify every piece", "  15   mismatch"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("-h does not say %q", w)
			}
		}
	})
}
