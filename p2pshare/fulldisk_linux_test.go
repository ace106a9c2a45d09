package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallDisk mounts a tmpfs of size bytes at a new folder and unmounts it
// when the test ends, lazily, so that a file a failed test left open does
// not keep it mounted. It needs root; without it the test is skipped.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs to fill needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("mounting a tmpfs of %d bytes at %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFullUncappedResumes fetches a 2 MiB share, uncapped, onto a disk
// with about 1 MiB free: the fetch fails saying the disk is full, and still
// records the pieces it wrote before it stops (TestDiskFullStopsAndResumes,
// capped, has Syncs record them as the disk fills). With space freed, the
// rerun fetches only the pieces the first run did not record.
func TestDiskFullUncappedResumes(t *testing.T) {
	const size, pieceSize = 2 << 20, 32 << 10
	const pieces = size / pieceSize
	disk := smallDisk(t, 3<<20)
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := testNode(t, nil, nil)
	src, want := randomFile(t, dir, size)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: pieceSize})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, seed, nil)
	out := filepath.Join(disk, "out.bin")

	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Wait(ctx)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("fetch onto a full disk: %v, want an error saying no space is left", err)
	}
	held := d.Progress().Pieces
	if held == 0 || held == pieces {
		t.Fatalf("the fetch failed holding %d of %d pieces; the test wants a partial fetch", held, pieces)
	}
	recorded := len(statePieces(t, out, pieces))
	if recorded < held {
		t.Fatalf("the state file records %d pieces, want the %d the fetch held", recorded, held)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	d, err = leech.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("the rerun, with space freed: %v", err)
	}
	// Verified counts the pieces this run received: those the first run
	// recorded are held without fetching them again.
	t.Logf("the first run held %d of %d pieces and recorded %d; the rerun fetched %d", held, pieces, recorded, d.Progress().Verified)
	if got := d.Progress().Verified; got != int64(pieces-recorded) {
		t.Errorf("the rerun fetched %d pieces, want the %d the first run did not record", got, pieces-recorded)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("fetched content differs from the source (%v)", err)
	}
	leftovers, _ := filepath.Glob(out + ".*")
	if len(leftovers) != 0 {
		t.Errorf("left behind after completion: %v", leftovers)
	}
}
