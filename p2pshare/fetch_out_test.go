package p2pshare

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFetchRefusesAnExistingOutFirst fetches a share nobody holds onto a
// destination that already exists: Fetch must refuse at once, naming the
// path, with an error that wraps fs.ErrExist, not wait out the lookup and
// report the share as not found.
func TestFetchRefusesAnExistingOutFirst(t *testing.T) {
	seed := testNode(t, nil, nil)
	leech := testNode(t, seed, nil)
	ih, err := ParseInfohash("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	if err := os.WriteFile(file, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	symlinks := os.Symlink(filepath.Join(dir, "nowhere"), dangling) == nil
	for _, tt := range []struct {
		name, out string
		skip      bool
	}{
		{name: "file", out: file},
		{name: "folder", out: folder},
		{name: "dangling symlink", out: dangling, skip: !symlinks},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("this system made no symbolic link")
			}
			// The lookup would run until ctx ends: a refusal that comes
			// from the lookup instead carries ErrNotFound.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := leech.Fetch(ctx, ih, FetchOptions{Out: tt.out})
			if !errors.Is(err, fs.ErrExist) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.out) {
				t.Fatalf("Fetch onto an existing %s: %v, want an error wrapping fs.ErrExist that names %s", tt.name, err, tt.out)
			}
		})
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "mine" {
		t.Errorf("the existing file after the refusals: %q, %v", b, err)
	}
}
