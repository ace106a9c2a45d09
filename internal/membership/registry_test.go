package membership

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRegistryPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), registryFile)
	r, err := OpenRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tok := TokenRecord{ID: strings.Repeat("ab", 16), Secret: make([]byte, 32), Role: RoleStudent, Uses: 2, UsesLeft: 2, Expires: now.Add(time.Hour)}
	if err := r.AddToken(tok); err != nil {
		t.Fatal(err)
	}
	p := randomPeer(t)
	if err := r.admit(joinRecord{Peer: p, Name: "alice", Role: RoleStudent, Token: tok.ID}, big.NewInt(99), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	// What is on disk now, without any close or flush, is what a crash
	// would leave: the use must already be there.
	r2, err := OpenRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r2.Token(tok.ID); got.UsesLeft != 1 {
		t.Errorf("uses left on disk %d, want 1", got.UsesLeft)
	}
	if m, ok := r2.Member(p); !ok || m.Name != "alice" || m.Serials[0] != "63" {
		t.Errorf("member on disk: %+v", m)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("registry mode %v, want 0600", fi.Mode().Perm())
		}
	}
}

// TestRegistryWriteFailure: when the use cannot be recorded, nothing
// changes and no certificate may be issued.
func TestRegistryWriteFailure(t *testing.T) {
	tn := newTestNet(t, nil)
	inv := tn.invite(InviteOptions{})
	// A directory where the journal must be appended to: every admission's
	// write fails.
	path := filepath.Join(tn.dir, registryFile+journalSuffix)
	_ = os.Remove(path)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := joinWith(t, newKey(t), inv, "alice", RoleStudent)
	wantRefused(t, err, "failed to record")
	if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 1 {
		t.Errorf("uses left %d after a failed write, want 1", tok.UsesLeft)
	}
	if len(tn.boot.Registry().Members()) != 1 {
		t.Error("a member was recorded in memory although the write failed")
	}
}

func TestDecodeRegistryErrors(t *testing.T) {
	p := randomPeer(t).String()
	q := randomPeer(t).String()
	tok := strings.Repeat("ab", 16)
	cases := []struct{ name, in, want string }{
		{"not JSON", "{", "unexpected EOF"},
		{"unknown field", `{"format":1,"extra":1}`, "unknown field"},
		{"future format", `{"format":2}`, "format 2"},
		{"member under another key", `{"format":1,"members":{"` + p + `":{"peer":"` + q + `","name":"a","role":"student"}}}`, "names another peer"},
		{"bad serial", `{"format":1,"members":{"` + p + `":{"peer":"` + p + `","name":"a","role":"student","serials":["xyz"]}}}`, "not hex"},
		{"uses left above uses", `{"format":1,"tokens":{"` + tok + `":{"id":"` + tok + `","secret":"` + strings.Repeat("A", 43) + `=","role":"student","uses":1,"uses_left":2}}}`, "2 of 1 uses left"},
		{"short secret", `{"format":1,"tokens":{"` + tok + `":{"id":"` + tok + `","secret":"AAAA","role":"student","uses":1,"uses_left":1}}}`, "malformed"},
		{"negative CRL number", `{"format":1,"crl_number":-1}`, "CRL number -1"},
		{"revoked entry with a bad token", `{"format":1,"revoked":[{"peer":"` + p + `","name":"a","serials":[],"at":"2026-01-01T00:00:00Z","token":"xyz"}]}`, "revoked entry"},
		{"revoked entry with no name", `{"format":1,"revoked":[{"peer":"` + p + `","name":"","serials":[],"at":"2026-01-01T00:00:00Z"}]}`, "revoked entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRegistry([]byte(tc.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrMalformed saying %q", err, tc.want)
			}
		})
	}
}
