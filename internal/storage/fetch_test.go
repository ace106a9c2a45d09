package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestResume(t *testing.T) {
	// Each case spoils the leftovers of a first run that wrote some pieces
	// and closed, and returns the pieces the second run should hold.
	tests := []struct {
		name  string
		sync  bool // Sync explicitly before Close (Close syncs anyway)
		other bool // reopen with a different share of the same shape
		spoil func(t *testing.T, ts testShare, dest string, written []int) map[int]bool
	}{
		{"after Sync and Close", true, false, keepWritten},
		{"after Close alone", false, false, keepWritten},
		{"corrupted piece", true, false, func(t *testing.T, ts testShare, dest string, written []int) map[int]bool {
			want := keepWritten(t, ts, dest, written)
			bad := written[0]
			file, off := ts.locate(dest+PartSuffix, int64(bad)*ts.m.PieceSize+ts.m.PieceLen(bad)/2)
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			mustNil(t, err)
			defer f.Close()
			b := []byte{0}
			_, err = f.ReadAt(b, off)
			mustNil(t, err)
			b[0] ^= 0x40
			_, err = f.WriteAt(b, off)
			mustNil(t, err)
			delete(want, bad)
			return want
		}},
		{"state file of another share", true, true, holdNothing},
		{"garbage state file", true, false, func(t *testing.T, ts testShare, dest string, written []int) map[int]bool {
			mustNil(t, os.WriteFile(dest+StateSuffix, randBytes(rand.New(rand.NewPCG(9, 9)), 300), 0o644))
			return nil
		}},
		{"truncated state file", true, false, func(t *testing.T, ts testShare, dest string, written []int) map[int]bool {
			st, err := os.ReadFile(dest + StateSuffix)
			mustNil(t, err)
			mustNil(t, os.WriteFile(dest+StateSuffix, st[:len(st)-1], 0o644))
			return nil
		}},
		{"state file missing", true, false, func(t *testing.T, ts testShare, dest string, written []int) map[int]bool {
			mustNil(t, os.Remove(dest+StateSuffix))
			return nil
		}},
	}
	for _, shape := range []string{"single file", "nested folder"} {
		for _, tt := range tests {
			t.Run(shape+"/"+tt.name, func(t *testing.T) {
				ts := testShares(t, 1)[shape]
				dest := filepath.Join(t.TempDir(), ts.m.Name)
				s, err := OpenFetch(ts.m, dest)
				mustNil(t, err)
				written := rand.New(rand.NewPCG(5, 5)).Perm(len(ts.m.Pieces))[:len(ts.m.Pieces)/2]
				for _, i := range written {
					mustNil(t, s.WritePiece(i, ts.piece(i)))
				}
				if tt.sync {
					mustNil(t, s.Sync())
				}
				mustNil(t, s.Close())
				want := tt.spoil(t, ts, dest, written)
				if tt.other {
					ts = testShares(t, 2)[shape]
				}

				s, err = OpenFetch(ts.m, dest)
				mustNil(t, err)
				defer s.Close()
				wantHeld(t, s, want)
				for i := range ts.m.Pieces {
					if !want[i] {
						mustNil(t, s.WritePiece(i, ts.piece(i)))
					}
				}
				mustNil(t, s.Complete())
				ts.checkTree(t, dest)
			})
		}
	}
}

// keepWritten spoils nothing: the second run holds what the first wrote.
func keepWritten(_ *testing.T, _ testShare, _ string, written []int) map[int]bool {
	want := map[int]bool{}
	for _, i := range written {
		want[i] = true
	}
	return want
}

// holdNothing spoils nothing but expects the second run to hold nothing.
func holdNothing(*testing.T, testShare, string, []int) map[int]bool { return nil }

func TestSyncWritesStateOfHeldPieces(t *testing.T) {
	ts := testShares(t, 1)["nested folder"]
	dest := filepath.Join(t.TempDir(), ts.m.Name)
	s, err := OpenFetch(ts.m, dest)
	mustNil(t, err)
	defer s.Close()
	mustNil(t, s.Sync())
	for _, i := range []int{0, 5, 7} {
		mustNil(t, s.WritePiece(i, ts.piece(i)))
	}
	mustNil(t, s.Sync())
	got, err := loadState(dest+StateSuffix, shareIdentity(ts.m), len(ts.m.Pieces))
	mustNil(t, err)
	if want := s.Bitfield(); !bytes.Equal(got, want) {
		t.Errorf("state file bitfield %08b, want %08b", got, want)
	}
	if _, err := os.Lstat(dest + StateSuffix + ".tmp"); err == nil {
		t.Error("temporary state file left behind")
	}
}

func TestConcurrentReadWrite(t *testing.T) {
	ts := testShares(t, 7)["nested folder"]
	s, err := OpenFetch(ts.m, filepath.Join(t.TempDir(), ts.m.Name))
	mustNil(t, err)
	defer s.Close()
	n := len(ts.m.Pieces)
	order := rand.New(rand.NewPCG(6, 6)).Perm(n)
	const writers, readers = 4, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := w; k < n; k += writers {
				i := order[k]
				if err := s.WritePiece(i, ts.piece(i)); err != nil {
					t.Error(err)
				}
				if k%5 == 0 {
					if err := s.Sync(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 8))
			var buf []byte
			p := make([]byte, 40)
			for range 300 {
				i := rng.IntN(n)
				if !s.Have(i) {
					continue
				}
				var err error
				if buf, err = s.ReadPiece(i, buf); err != nil {
					t.Error(err)
				} else if !bytes.Equal(buf, ts.piece(i)) {
					t.Errorf("piece %d read while writing differs", i)
				}
				off := int64(i) * ts.m.PieceSize
				if k, _ := s.ReadAt(p[:min(int64(len(p)), ts.m.PieceLen(i))], off); !bytes.Equal(p[:k], ts.content[off:off+int64(k)]) {
					t.Errorf("ReadAt(%d) while writing differs", off)
				}
				_ = s.Bitfield()
				_ = s.HaveCount()
			}
		})
	}
	wg.Wait()
	mustNil(t, s.Complete())
	if got := s.HaveCount(); got != n {
		t.Errorf("HaveCount() = %d after all writes, want %d", got, n)
	}
}

// TestCompleteRefusedKeepsState: a Complete that cannot finish (the
// destination appeared meanwhile) leaves a state file that lists every
// piece, so a later fetch, once the way is clear, resumes with everything
// held instead of fetching again.
func TestCompleteRefusedKeepsState(t *testing.T) {
	for shape, ts := range testShares(t, 3) {
		t.Run(shape, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), ts.m.Name)
			s, err := OpenFetch(ts.m, dest)
			mustNil(t, err)
			all := map[int]bool{}
			for i := range ts.m.NumPieces() {
				mustNil(t, s.WritePiece(i, ts.piece(i)))
				all[i] = true
			}
			mustNil(t, os.WriteFile(dest, []byte("in the way"), 0o644))
			if err := s.Complete(); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("Complete with the destination taken: %v, want already exists", err)
			}
			// Read before Close, which records the state again.
			claimed, err := loadState(dest+StateSuffix, shareIdentity(ts.m), len(ts.m.Pieces))
			if err != nil {
				t.Fatalf("state file after a refused Complete: %v", err)
			}
			if want := s.Bitfield(); !bytes.Equal(claimed, want) {
				t.Errorf("state file after a refused Complete: bitfield %08b, want %08b", claimed, want)
			}
			mustNil(t, s.Close())
			mustNil(t, os.Remove(dest))
			s, err = OpenFetch(ts.m, dest)
			mustNil(t, err)
			defer s.Close()
			wantHeld(t, s, all)
			mustNil(t, s.Complete())
			if _, err := os.Stat(dest + StateSuffix); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state file after Complete: %v, want none", err)
			}
			ts.checkTree(t, dest)
		})
	}
}
