package storage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFetchReservesBlocks: a fetch reserves its file's disk blocks when it
// opens, instead of leaving holes that every piece fills one at a time;
// a piece written before a restart is still there after the second open.
func TestFetchReservesBlocks(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	mustNil(t, unix.Statfs(dir, &fs))
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is a tmpfs, where a fetch reserves nothing on purpose", dir)
	}
	probe := filepath.Join(dir, "probe")
	f, err := os.Create(probe)
	mustNil(t, err)
	if err := unix.Fallocate(int(f.Fd()), 0, 0, 1<<20); err != nil {
		f.Close()
		t.Skipf("the file system of %s has no fallocate: %v", dir, err)
	}
	f.Close()

	const pieceSize = 64 << 10
	ts := makeShare(t, "image.bin", pieceSize, []testEntry{{data: randBytes(rand.New(rand.NewPCG(7, 7)), 128*pieceSize+100)}})
	dest := filepath.Join(dir, ts.m.Name)
	s, err := OpenFetch(ts.m, dest)
	mustNil(t, err)
	part := dest + PartSuffix
	reserved := func() int64 {
		fi, err := os.Stat(part)
		mustNil(t, err)
		return fi.Sys().(*syscall.Stat_t).Blocks * 512
	}
	size := int64(len(ts.content))
	if got := reserved(); got < size {
		t.Fatalf("after opening the fetch, %s has %d bytes of blocks for its %d bytes: holes left to fill piece by piece", part, got, size)
	}
	mustNil(t, s.WritePiece(5, ts.piece(5)))
	mustNil(t, s.Close())

	s, err = OpenFetch(ts.m, dest)
	mustNil(t, err)
	defer s.Close()
	wantHeld(t, s, map[int]bool{5: true})
	got := make([]byte, pieceSize)
	rf, err := os.Open(part)
	mustNil(t, err)
	defer rf.Close()
	_, err = rf.ReadAt(got, 5*pieceSize)
	mustNil(t, err)
	if !bytes.Equal(got, ts.piece(5)) {
		t.Error("piece 5 changed when the fetch was opened again")
	}
}
