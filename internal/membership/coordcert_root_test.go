package membership

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRootKeyOffline: the root key written out and taken from the
// bootstrap's directory is gone from there, noted, and loads back from
// its file; a file that holds another key is neither overwritten nor
// taken for the root's, and the key stays when its copy is not proven.
func TestRootKeyOffline(t *testing.T) {
	now := time.Now()
	dir, usb := t.TempDir(), t.TempDir()
	root, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(usb, "other.key")
	if err := other.ExportKey(foreign); err != nil {
		t.Fatal(err)
	}
	if err := root.ExportKey(foreign); err == nil || !strings.Contains(err.Error(), "is left alone") {
		t.Errorf("writing the root key over another network's: %v", err)
	}
	if _, err := LoadRootCA(dir, foreign); !errors.Is(err, ErrWrongCA) {
		t.Errorf("another network's key loaded as the root: got %v, want ErrWrongCA", err)
	}
	if err := TakeRootKeyOffline(dir, foreign, now); err == nil || !exists(filepath.Join(dir, caKeyFile)) {
		t.Errorf("the root key was taken offline with another network's key as its copy: %v", err)
	}
	if _, offline := RootKeyOffline(dir); offline {
		t.Error("the root key reads as offline while it is in its directory")
	}

	key := filepath.Join(usb, "root.key")
	if err := root.ExportKey(key); err != nil {
		t.Fatal(err)
	}
	if err := root.ExportKey(key); err != nil {
		t.Errorf("writing the root key again where it is: %v", err)
	}
	if err := TakeRootKeyOffline(dir, key, now); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, caKeyFile)) {
		t.Fatal("the root key is still in the bootstrap's directory")
	}
	note, offline := RootKeyOffline(dir)
	if !offline || !strings.Contains(note, key) {
		t.Errorf("the note of the offline root key: %q (offline %v), want it to name %s", note, offline, key)
	}
	if err := os.Chmod(key, 0o755); err != nil { // as a USB stick shows it
		t.Fatal(err)
	}
	back, err := LoadRootCA(dir, key)
	if err != nil || !back.IsRoot() || back.NetworkID() != root.NetworkID() {
		t.Fatalf("the root brought back: %v", err)
	}
	if _, err := back.Issue(IssueRequest{Peer: peerOf(t, newKey(t)), Name: "s1", Role: RoleStudent, Now: now}); err != nil {
		t.Errorf("the root brought back does not sign: %v", err)
	}
}

// TestCoordinatorSignsNothingOnceEnded: a coordinator whose certificate
// has ended is told so when it signs, instead of handing out a member
// certificate that is void already.
func TestCoordinatorSignsNothingOnceEnded(t *testing.T) {
	now := time.Now()
	root, err := LoadOrCreateCA(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	ca, cc, _ := coordinatorCA(t, root, "ta", now, time.Hour)
	_, err = ca.Issue(IssueRequest{Peer: peerOf(t, newKey(t)), Name: "s1", Role: RoleStudent, Now: now.Add(2 * time.Hour)})
	if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "ended at "+stamp(cc.NotAfter)) {
		t.Errorf("signing past the coordinator certificate's end: got %v, want ErrExpired naming its end", err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// FuzzReadRootKey: a root key file brought back from a USB stick is read
// as an Ed25519 key or refused, never misread.
func FuzzReadRootKey(f *testing.F) {
	ca, err := LoadOrCreateCA(f.TempDir(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	good := filepath.Join(f.TempDir(), "root.key")
	if err := ca.ExportKey(good); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		p := filepath.Join(dir, "k")
		if err := os.WriteFile(p, in, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := readRootKey(p)
		if err == nil && len(k) != 64 {
			t.Fatalf("a key of %d bytes read as Ed25519", len(k))
		}
	})
}
