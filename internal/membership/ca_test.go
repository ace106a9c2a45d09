package membership

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCACreateAndReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ca, err := LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ca.Certificate().RawSubjectPublicKeyInfo)
	if ca.NetworkID() != hex.EncodeToString(sum[:]) {
		t.Errorf("network ID %s is not the SPKI hash", ca.NetworkID())
	}
	again, err := LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if again.Fingerprint() != ca.Fingerprint() {
		t.Fatal("reload made a new CA")
	}
	if runtime.GOOS == "windows" {
		return
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, caKeyFile): 0o600, filepath.Join(dir, caCertFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestCARefusesHalfOrLooseFiles(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		if _, err := LoadOrCreateCA(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cases := []struct {
		name   string
		break_ func(dir string) error
		want   string
	}{
		{"key without certificate", func(d string) error { return os.Remove(filepath.Join(d, caCertFile)) }, "remove both"},
		{"certificate without key", func(d string) error { return os.Remove(filepath.Join(d, caKeyFile)) }, "is a member"},
		{"key readable by others", func(d string) error { return os.Chmod(filepath.Join(d, caKeyFile), 0o644) }, "must be 0600"},
		{"corrupt key", func(d string) error { return os.WriteFile(filepath.Join(d, caKeyFile), []byte("x"), 0o600) }, "no PEM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tc.name, "readable") {
				t.Skip("no Unix modes")
			}
			dir := mk(t)
			if err := tc.break_(dir); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateCA(dir, time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
