package membership

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// journalFixture is a registry with one token of ten uses.
type journalFixture struct {
	t    *testing.T
	path string
	r    *Registry
	tok  TokenRecord
	now  time.Time
}

func newJournalFixture(t *testing.T) *journalFixture {
	t.Helper()
	f := &journalFixture{t: t, path: filepath.Join(t.TempDir(), registryFile), now: time.Now().UTC()}
	var err error
	if f.r, err = OpenRegistry(f.path); err != nil {
		t.Fatal(err)
	}
	f.tok = TokenRecord{ID: strings.Repeat("cd", 16), Secret: make([]byte, 32), Role: RoleStudent, Uses: 10, UsesLeft: 10, Expires: f.now.Add(time.Hour)}
	if err := f.r.AddToken(f.tok); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *journalFixture) admit(name string) {
	f.t.Helper()
	j := joinRecord{Peer: randomPeer(f.t), Name: name, Role: RoleStudent, Token: f.tok.ID}
	if err := f.r.admit(j, big.NewInt(7), f.now.Add(time.Hour), f.now); err != nil {
		f.t.Fatal(err)
	}
}

// reopen opens the registry again from disk, as a restart after a crash
// would.
func (f *journalFixture) reopen() *Registry {
	f.t.Helper()
	r, err := OpenRegistry(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *journalFixture) journal() []byte {
	b, err := os.ReadFile(f.path + journalSuffix)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func names(r *Registry) string {
	var out []string
	for _, m := range r.Members() {
		out = append(out, m.Name)
	}
	return strings.Join(out, ",")
}

// TestJournalAdmissionsAppend: an admission adds one line to the journal
// and leaves registry.json alone; a reopened registry holds every member and
// the token's uses; a rarer change (a token) folds the journal into the file.
func TestJournalAdmissionsAppend(t *testing.T) {
	f := newJournalFixture(t)
	before, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		f.admit(fmt.Sprintf("s%d", i))
	}
	if after, _ := os.ReadFile(f.path); !bytes.Equal(before, after) {
		t.Errorf("an admission rewrote registry.json")
	}
	if n := bytes.Count(f.journal(), []byte("\n")); n != 3 {
		t.Errorf("journal holds %d lines after 3 admissions", n)
	}
	r := f.reopen()
	if got := names(r); got != "s0,s1,s2" {
		t.Errorf("reopened registry holds %q", got)
	}
	if tok, _ := r.Token(f.tok.ID); tok.UsesLeft != 7 {
		t.Errorf("reopened token has %d uses left, want 7", tok.UsesLeft)
	}
	if err := f.r.AddToken(TokenRecord{ID: strings.Repeat("ef", 16), Secret: make([]byte, 32), Role: RoleStudent, Uses: 1, UsesLeft: 1, Expires: f.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if j := f.journal(); len(j) != 0 {
		t.Errorf("journal holds %d bytes after a full write", len(j))
	}
	if got := names(f.reopen()); got != "s0,s1,s2" {
		t.Errorf("after folding the journal, registry holds %q", got)
	}
}

// TestJournalCrashes: what a crash can leave behind reopens to exactly the
// acknowledged changes.
func TestJournalCrashes(t *testing.T) {
	t.Run("torn last line", func(t *testing.T) {
		f := newJournalFixture(t)
		f.admit("a")
		f.admit("b")
		j := f.journal()
		// The second line cut short: that admission was never acknowledged.
		if err := os.WriteFile(f.path+journalSuffix, j[:len(j)-20], 0o600); err != nil {
			t.Fatal(err)
		}
		r := f.reopen()
		if got := names(r); got != "a" {
			t.Errorf("registry holds %q, want a", got)
		}
		// The next admission starts a line of its own after the last
		// whole one, and both survive another restart.
		if err := r.admit(joinRecord{Peer: randomPeer(t), Name: "c", Role: RoleStudent, Token: f.tok.ID}, big.NewInt(8), f.now.Add(time.Hour), f.now); err != nil {
			t.Fatal(err)
		}
		if got := names(f.reopen()); got != "a,c" {
			t.Errorf("after admitting c, registry holds %q, want a,c", got)
		}
	})
	t.Run("journal outlives a full write", func(t *testing.T) {
		// A revocation rewrote registry.json but the crash came before the
		// journal was emptied: the journal's admission of the revoked
		// member must not bring it back.
		f := newJournalFixture(t)
		f.admit("a")
		f.admit("b")
		j := f.journal()
		if _, _, err := f.r.revoke("a", false, f.now); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path+journalSuffix, j, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := names(f.reopen()); got != "b" {
			t.Errorf("registry holds %q after the crash, want b (a was revoked)", got)
		}
	})
	t.Run("bad line before good ones", func(t *testing.T) {
		f := newJournalFixture(t)
		f.admit("a")
		f.admit("b")
		j := f.journal()
		bad := append([]byte("{\"seq\":1,\"member\":null}\n"), j[bytes.IndexByte(j, '\n')+1:]...)
		if err := os.WriteFile(f.path+journalSuffix, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenRegistry(f.path)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("OpenRegistry: %v, want a malformed line 1", err)
		}
	})
}

// TestJournalFolds: once the journal is long, the next change rewrites
// registry.json and starts the journal afresh.
func TestJournalFolds(t *testing.T) {
	f := newJournalFixture(t)
	f.admit("a")
	f.r.mu.Lock()
	f.r.journaled = compactAfter
	f.r.mu.Unlock()
	f.admit("b")
	if j := f.journal(); len(j) != 0 {
		t.Errorf("journal holds %d bytes after it was folded", len(j))
	}
	f.admit("c")
	if n := bytes.Count(f.journal(), []byte("\n")); n != 1 {
		t.Errorf("journal holds %d lines, want 1", n)
	}
	if got := names(f.reopen()); got != "a,b,c" {
		t.Errorf("registry holds %q", got)
	}
}

func TestDecodeJournalErrors(t *testing.T) {
	good := `{"seq":1,"member":{"peer":"12D3KooWRiKbg4NaUHHzFg7rkogBiX8D984D4iQY9qUTN9TS8SiN","name":"a","role":"student","serials":["1"],"not_after":"2030-01-01T00:00:00Z","joined":"2026-01-01T00:00:00Z"}}`
	for _, c := range []struct {
		name, in, want string
	}{
		{"unknown field", `{"seq":1,"x":1}` + "\n" + good + "\n", "unknown field"},
		{"gap in sequence", good + "\n" + strings.Replace(good, `"seq":1`, `"seq":3`, 1) + "\n", "sequence 3 after 1"},
		{"bad name", strings.Replace(good, `"name":"a"`, `"name":""`, 1) + "\n" + good + "\n", "line 1"},
		{"bad token", strings.Replace(good, `}}`, `},"token":{"id":"zz","uses_left":1}}`, 1) + "\n" + good + "\n", "token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodeJournal([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("decodeJournal: %v, want an error containing %q", err, c.want)
			}
		})
	}
	if es, whole, err := decodeJournal([]byte(good + "\n" + good[:30])); err != nil || len(es) != 1 || whole != len(good)+1 {
		t.Errorf("a torn last line: %d entries, %d whole bytes, %v; want 1, %d and no error", len(es), whole, err, len(good)+1)
	}
}
