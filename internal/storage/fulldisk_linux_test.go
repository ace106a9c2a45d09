package storage

import (
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/p2pshare/p2pshare/internal/manifest"
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
	mustNil(t, os.Mkdir(dir, 0o755))
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

// TestFullDiskKeepsState writes a share's pieces onto a disk too small for
// it until the disk is full: Sync still records the pieces written (the
// state file's space was reserved when the fetch opened), and so does
// Close. With space freed, a new fetch holds exactly those pieces.
func TestFullDiskKeepsState(t *testing.T) {
	const pieceSize, pieces = 16 << 10, 64
	content := randBytes(rand.New(rand.NewPCG(4, 4)), pieceSize*pieces)
	m := &manifest.Manifest{Name: "image.bin", PieceSize: pieceSize, Entries: []manifest.Entry{{Path: "", Size: int64(len(content))}}}
	for i := range pieces {
		m.Pieces = append(m.Pieces, sha256.Sum256(content[i*pieceSize:(i+1)*pieceSize]))
	}
	disk := smallDisk(t, 1<<20)
	filler := filepath.Join(disk, "filler")
	mustNil(t, os.WriteFile(filler, make([]byte, 512<<10), 0o644))
	dest := filepath.Join(disk, m.Name)

	s, err := OpenFetch(m, dest)
	mustNil(t, err)
	t.Cleanup(func() { s.Close() })
	written := map[int]bool{}
	for i := range pieces {
		err = s.WritePiece(i, content[i*pieceSize:(i+1)*pieceSize])
		if err != nil {
			break
		}
		written[i] = true
	}
	if !errors.Is(err, syscall.ENOSPC) || len(written) == 0 {
		t.Fatalf("writing until the disk is full: %d pieces written, then %v; want some, then ENOSPC", len(written), err)
	}
	if err := s.Sync(); err != nil {
		t.Errorf("Sync on a full disk: %v", err)
	}
	claimed, err := loadState(dest+StateSuffix, shareIdentity(m), pieces)
	mustNil(t, err)
	for i := range pieces {
		if got := claimed[i/8]&(0x80>>(i%8)) != 0; got != written[i] {
			t.Errorf("state file after Sync: piece %d listed %v, want %v", i, got, written[i])
		}
	}
	mustNil(t, s.Close())

	mustNil(t, os.Remove(filler))
	s, err = OpenFetch(m, dest)
	mustNil(t, err)
	wantHeld(t, s, written)
}
