package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFetchInMemory: a share fetched InMemory is read back with Bytes and
// Reader, never lands in a file, and is seeded from memory to a member
// that comes after its seeder left; one over MemoryLimit is refused
// before any of it is fetched, and bad options are refused at once.
func TestFetchInMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, want := randomFile(t, dir, 300<<10)
	seeder := testNode(t, boot, nil)
	ih, err := seeder.Share(ctx, src, ShareOptions{PieceSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	leechDir := t.TempDir()
	leech := testNode(t, boot, func(c *Config) { c.DataDir = leechDir })

	for name, o := range map[string]FetchOptions{
		"Out and InMemory":      {Out: filepath.Join(dir, "x"), InMemory: true},
		"negative MemoryLimit":  {InMemory: true, MemoryLimit: -1},
		"neither Out nor InMem": {},
	} {
		if _, err := leech.Fetch(ctx, ih, o); err == nil {
			t.Errorf("%s: Fetch succeeded", name)
		}
	}
	_, err = leech.Fetch(ctx, ih, FetchOptions{InMemory: true, MemoryLimit: 100 << 10})
	if !errors.Is(err, ErrTooLargeForMemory) || !strings.Contains(err.Error(), "307200 bytes") || !strings.Contains(err.Error(), "102400") {
		t.Fatalf("a 300 KiB share with a 100 KiB MemoryLimit: %v, want ErrTooLargeForMemory naming both sizes", err)
	}
	if _, open := leech.Progress(ih); open {
		t.Fatal("the refused in-memory fetch left the share open")
	}

	d, err := leech.Fetch(ctx, ih, FetchOptions{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := io.ReadAll(d.Reader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || !bytes.Equal(streamed, want) {
		t.Fatal("the in-memory content differs from the source")
	}
	if d.Path() != "" {
		t.Errorf("Path of an in-memory fetch: %q", d.Path())
	}
	// Nothing of the share was written: no file in the node's DataDir or
	// beside the source is as large as the share.
	for _, root := range []string{leechDir, dir} {
		_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || p == src {
				return err
			}
			if info, err := e.Info(); err == nil && info.Size() >= int64(len(want)) {
				t.Errorf("%s (%d bytes) was written during an in-memory fetch", p, info.Size())
			}
			return nil
		})
	}

	// The seeder leaves; a newcomer gets the share from the leech's memory.
	seeder.Close()
	late := testNode(t, boot, nil)
	out := filepath.Join(dir, "late.bin")
	d2, err := late.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Bytes(); err == nil || !strings.Contains(err.Error(), "InMemory") {
		t.Fatalf("Bytes of a fetch to disk: %v, want an error that points to InMemory", err)
	}
}
