package membership

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestRegistryFromBeforeCanonicalNames loads a registry as the versions
// before canonical names wrote it: members whose
// names now share a key ("s1234", then "ſ1234", and "ｓ1234" from the
// journal), and a revoked name that someone else took afterwards. It
// loads; the first to have joined holds the shared name and the others
// are reported; the one holding the revoked name keeps it.
func TestRegistryFromBeforeCanonicalNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, registryFile)
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	first, second, third, gone, taker := randomPeer(t), randomPeer(t), randomPeer(t), randomPeer(t), randomPeer(t)
	tok := strings.Repeat("ab", 16)
	member := func(p peer.ID, name string, joined time.Time) string {
		return fmt.Sprintf(`%q: {"peer": %q, "name": %q, "role": "student", "serials": ["1"], "not_after": "2026-10-01T08:00:00Z", "token": %q, "joined": %q}`,
			p, p, name, tok, joined.Format(time.RFC3339))
	}
	file := `{"format": 1, "members": {` +
		member(second, "ſ1234", t0.Add(2*time.Minute)) + `, ` +
		member(first, "s1234", t0.Add(time.Minute)) + `, ` +
		member(taker, "m5", t0.Add(5*time.Minute)) + `},
	 "tokens": {"` + tok + `": {"id": "` + tok + `", "secret": "` + strings.Repeat("A", 43) + `=", "role": "student", "uses": 30, "uses_left": 26, "expires": "2026-09-02T08:00:00Z", "created": "2026-09-01T08:00:00Z"}},
	 "revoked": [{"peer": "` + gone.String() + `", "name": "m5", "serials": ["abc"], "at": "2026-09-01T08:03:00Z"}],
	 "crl_number": 1}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	journal := fmt.Sprintf(`{"seq":1,"member":{"peer":%q,"name":"ｓ1234","role":"student","serials":["2"],"not_after":"2026-10-01T08:00:00Z","token":%q,"joined":%q},"token":{"id":%q,"uses_left":25}}`+"\n",
		third, tok, t0.Add(3*time.Minute).Format(time.RFC3339), tok)
	if err := os.WriteFile(path+journalSuffix, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}

	r, err := OpenRegistry(path)
	if err != nil {
		t.Fatalf("a registry from before canonical names does not load: %v", err)
	}
	if n := len(r.Members()); n != 4 {
		t.Errorf("%d members loaded, want 4", n)
	}
	conflicts := r.NameConflicts()
	if len(conflicts) != 2 || !strings.Contains(conflicts[0], second.String()) || !strings.Contains(conflicts[1], third.String()) ||
		!strings.Contains(conflicts[0], first.String()) {
		t.Errorf("conflicts %q: want ſ1234 (%s) then ｓ1234 (%s), each against s1234 (%s)", conflicts, second, third, first)
	}
	now := t0.Add(time.Hour)
	j := joinRecord{Peer: randomPeer(t), Name: "S1234", Role: RoleStudent, Token: tok}
	if err := r.precheck(j, t0); err == nil || !strings.Contains(err.Error(), first.String()) {
		t.Errorf("S1234 joining: %v, want it held by the first, %s", err, first)
	}
	j.Name = "m5"
	if err := r.precheck(j, t0); err == nil || !strings.Contains(err.Error(), "already held by peer "+taker.String()) {
		t.Errorf("m5 joining: %v, want it held by %s", err, taker)
	}
	// Lookups by name find the holder; the others are named by peer ID.
	rv, _, err := r.revoke("S1234", false, now)
	if err != nil || rv.Peer != first {
		t.Fatalf("revoke S1234: %+v, %v; want peer %s", rv, err, first)
	}
	if _, _, err := r.revoke(third.String(), false, now); err != nil {
		t.Fatal(err)
	}

	// The bootstrap says so when it opens such a registry.
	var log bytes.Buffer
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+journalSuffix, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBootstrap(BootstrapConfig{Dir: dir, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if got := strings.Count(log.String(), "two members share a name"); got != 2 {
		t.Errorf("the bootstrap logged %d name conflicts, want 2:\n%s", got, log.String())
	}
}

// TestRegistryRevocationsPersist: revocations with their tokens, lifts
// and cancelled tokens are written to registry.json and read back, and the
// admissions journaled meanwhile are kept.
func TestRegistryRevocationsPersist(t *testing.T) {
	f := newJournalFixture(t)
	f.admit("a")
	f.admit("b")
	f.admit("c")
	now := f.now.Add(time.Minute)
	if _, _, err := f.r.revoke("a", false, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.r.revoke("b", false, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.r.lift("b", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.admit("d") // journaled after the last full write
	r := f.reopen()
	rvs := r.Revoked()
	if len(rvs) != 2 || rvs[0].Name != "a" || rvs[0].Token != f.tok.ID || !rvs[0].Lifted.IsZero() ||
		rvs[1].Name != "b" || !rvs[1].Lifted.Equal(now.Add(time.Minute)) {
		t.Errorf("revocations read back: %+v", rvs)
	}
	if r.CRLNumber() != 3 {
		t.Errorf("CRL number %d, want 3 (two revocations, one lift)", r.CRLNumber())
	}
	if names(r) != "c,d" {
		t.Errorf("members %q, want c,d", names(r))
	}
	// A revoked name is reserved, a lifted one free.
	j := joinRecord{Peer: randomPeer(t), Name: "A", Role: RoleStudent, Token: f.tok.ID}
	if err := r.precheck(j, f.now); err == nil || !strings.Contains(err.Error(), `name "A" was revoked (as "a"`) {
		t.Errorf("a join as A: %v", err)
	}
	j.Name = "b"
	if err := r.precheck(j, f.now); err != nil {
		t.Errorf("a join as b, lifted: %v", err)
	}

	// Revoking c with its token cancels the token, durably.
	if _, _, err := r.revoke("c", true, now); err != nil {
		t.Fatal(err)
	}
	r = f.reopen()
	if tk, _ := r.Token(f.tok.ID); !tk.Cancelled.Equal(now) {
		t.Errorf("token cancelled at %v, want %v", tk.Cancelled, now)
	}
	if err := r.precheck(j, f.now); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("a join with the cancelled token: %v", err)
	}
	if _, err := r.cancelToken(f.tok.ID, now); err == nil {
		t.Error("cancelling a cancelled token succeeded")
	}
	if _, _, err := r.revoke("d", true, now); err != nil {
		t.Errorf("revoking with a token already cancelled: %v", err)
	}
}
