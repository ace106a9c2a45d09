package examples_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeederFileChangedMidClass runs a seeder and two students; once the
// students have pieces, the seeder's file is overwritten in place with
// other bytes of the same size. The seeder notices before it serves a
// piece that no longer matches: it says on stderr that the file changed
// and that it stopped serving it. No student bans it for bad pieces, and
// none ends up with corrupt data.
func TestSeederFileChangedMidClass(t *testing.T) {
	t.Parallel()
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	const size = 8 << 20
	src, want := randomFile(t, dir, size)
	seedProc, seed := startPageSeeder(t, bin["seeder"], src, "-up", "1MiB")
	var students []*proc
	outs := map[*proc]string{}
	for _, n := range []string{"ana", "ben"} {
		out := filepath.Join(dir, n+".bin")
		p := leech(t, bin["leecher"], seed, n, out, "-stall-timeout", "5s", "-log-level", "warn")
		students, outs[p] = append(students, p), out
	}
	// Mid-class: a student holds some of it.
	for {
		var e struct {
			Event string `json:"event"`
			Bytes int64  `json:"bytes"`
		}
		students[0].line(t, &e)
		if e.Event == "done" {
			t.Fatal("ana finished before the file was changed: the seeder's -up is too fast for this test")
		}
		if e.Event == "progress" && e.Bytes > 0 {
			break
		}
	}
	other := make([]byte, size)
	rand.Read(other)
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(other, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	deadlineAt := time.Now().Add(deadline)
	for !strings.Contains(seedProc.stderr(), "stopped serving "+filepath.Base(src)) {
		if time.Now().After(deadlineAt) {
			t.Fatalf("the seeder did not say it stopped serving the changed file\nstderr:\n%s", seedProc.stderr())
		}
		select {
		case <-seedProc.exited:
			t.Fatalf("the seeder exited\nstderr:\n%s", seedProc.stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, part := range []string{"changed on disk", src, "no longer matches", "share it again"} {
		if !strings.Contains(seedProc.stderr(), part) {
			t.Errorf("the seeder's stderr does not say %q:\n%s", part, seedProc.stderr())
		}
	}

	for _, p := range students {
		select {
		case <-p.exited:
		case <-time.After(deadline):
			t.Fatalf("a student still runs %v after the seeder stopped serving\nstderr:\n%s", deadline, p.stderr())
		}
		for l := range p.lines {
			var e struct {
				Event string `json:"event"`
				For   string `json:"for"`
			}
			if json.Unmarshal([]byte(l), &e) == nil && (e.Event == "waiting" && e.For == "every holder banned") {
				t.Errorf("a student banned every holder: %s", l)
			}
		}
		if strings.Contains(p.stderr(), "failed verification") {
			t.Errorf("a student got a bad piece:\n%s", p.stderr())
		}
		got, err := os.ReadFile(outs[p])
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			t.Error(err)
		case !bytes.Equal(got, want):
			t.Errorf("%s holds corrupt data", outs[p])
		}
	}
}
