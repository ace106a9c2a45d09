package examples_test

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeecherStallSaysWhy runs a seeder whose file is changed under it
// after it printed its infohash: the seeder stops serving it rather than
// serve pieces that fail verification, so the leecher's only source is
// gone. The leecher must say what it waits for (a "waiting" event) and,
// with -stall-timeout, end with one line on stderr that names why, instead
// of sitting at 0 peers for ever. Its -h
// must say what each of its time limits bounds.
func TestLeecherStallSaysWhy(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 1<<20)
	seed := startSeeder(t, bin["seeder"], src)
	other := make([]byte, len(want))
	rand.Read(other)
	if err := os.WriteFile(src, other, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	r := run(t, bin["leecher"], "-invite", seed.Invite, "-infohash", seed.Infohash, "-out", out,
		"-listen", "/ip4/127.0.0.1/tcp/0", "-json", "-stall-timeout", "3s")
	if r.code == 0 {
		t.Fatalf("leecher exited 0 fetching from a corrupt seeder\nstdout:\n%s", r.stdout)
	}
	t.Logf("stdout:\n%sstderr:\n%s", r.stdout, r.stderr)
	first, rest, _ := strings.Cut(r.stderr, "\n")
	for _, part := range []string{"leecher: ", "fetch stalled", "no piece data for 3s", "no holder reachable", "-stall-timeout", "same -out to resume"} {
		if !strings.Contains(first, part) {
			t.Errorf("stderr %q does not say %q", first, part)
		}
	}
	if rest != "" {
		t.Errorf("stderr has more than one line:\n%s", r.stderr)
	}
	var waited []string
	for line := range strings.Lines(r.stdout) {
		var e struct {
			Event string `json:"event"`
			For   string `json:"for"`
			Peers int    `json:"peers"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", line, err)
		}
		switch e.Event {
		case "waiting":
			waited = append(waited, e.For)
		case "done":
			t.Errorf("the leecher reported done from a corrupt seeder: %s", line)
		}
	}
	if len(waited) == 0 || waited[len(waited)-1] != "no holder reachable" {
		t.Errorf("waiting events %q, want the last to be for \"no holder reachable\"\nstdout:\n%s", waited, r.stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s exists after a stalled fetch", out)
	}

	help := run(t, bin["leecher"], "-h")
	for _, part := range []string{
		"-timeout duration\n    \thow long joining the network may take, and then how long to look for the share before giving up; it does not bound the download",
		"-stall-timeout duration\n    \thow long the download may receive no piece data before it gives up",
	} {
		if !strings.Contains(help.stderr, part) {
			t.Errorf("leecher -h does not say %q:\n%s", part, help.stderr)
		}
	}
}
