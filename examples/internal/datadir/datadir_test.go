package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// home points os.UserConfigDir at a fresh folder for the test.
func home(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	t.Setenv("HOME", d)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(d, ".config"))
	t.Setenv("AppData", filepath.Join(d, "AppData"))
	r, err := Root()
	if err != nil || !strings.HasPrefix(r, d) {
		t.Fatalf("Root() = %q, %v; want a folder under %s", r, err, d)
	}
	return d
}

func TestDefaultFolders(t *testing.T) {
	home(t)
	a, _ := ForNetwork("leecher", strings.Repeat("ab", 32))
	b, _ := ForNetwork("leecher", strings.Repeat("cd", 32))
	f1, _ := ForFile("seeder", "lab4.qcow2")
	f2, _ := ForFile("seeder", filepath.Join("..", "lab4.qcow2"))
	f3, _ := ForFile("seeder", "lab4.qcow2")
	switch {
	case a == b:
		t.Errorf("two networks share %s", a)
	case f1 == f2:
		t.Errorf("two files of one name share %s", f1)
	case f1 != f3:
		t.Errorf("one file, two folders: %s, %s", f1, f3)
	case !strings.HasPrefix(filepath.Base(f1), "lab4.qcow2-"):
		t.Errorf("folder %s does not name the file", f1)
	}
	if _, err := ForNetwork("leecher", "abc"); err == nil {
		t.Error("a network ID of 3 digits made a folder")
	}
	for in, want := range map[string]string{"../..": "share....", "ä b/c": "bc", ".hidden": "share.hidden", "": "share"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOnly(t *testing.T) {
	home(t)
	if _, err := Only("message"); err == nil || !strings.Contains(err.Error(), "-invite") {
		t.Fatalf("no folder yet: %v, want an error asking for -invite", err)
	}
	a, _ := ForNetwork("message", strings.Repeat("ab", 32))
	if err := os.MkdirAll(a, 0o700); err != nil {
		t.Fatal(err)
	}
	if got, err := Only("message"); got != a || err != nil {
		t.Fatalf("Only = %q, %v; want %q", got, err, a)
	}
	b, _ := ForNetwork("message", strings.Repeat("cd", 32))
	if err := os.MkdirAll(b, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Only("message"); err == nil || !strings.Contains(err.Error(), "2 networks") {
		t.Fatalf("two folders: %v, want an error naming both", err)
	}
}

func TestLock(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no file locks here")
	}
	dir := filepath.Join(t.TempDir(), "net")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Lock: %v, want ErrInUse naming %s", err, dir)
	}
	unlock()
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}
