package storage

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

func TestSeedFetchRoundTrip(t *testing.T) {
	for name, ts := range testShares(t, 1) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src", ts.m.Name)
			ts.writeTo(t, src)
			seed, err := OpenSeed(ts.m, src)
			mustNil(t, err)
			defer seed.Close()
			all := map[int]bool{}
			for i := range ts.m.Pieces {
				all[i] = true
			}
			wantHeld(t, seed, all)

			dest := filepath.Join(dir, "dl", ts.m.Name)
			fetch, err := OpenFetch(ts.m, dest)
			mustNil(t, err)
			defer fetch.Close()
			if got := fetch.Path(); got != dest+PartSuffix {
				t.Errorf("Path() while fetching = %q, want %q", got, dest+PartSuffix)
			}
			wantHeld(t, fetch, nil)
			held := map[int]bool{}
			var buf []byte
			for _, i := range rand.New(rand.NewPCG(2, 2)).Perm(len(ts.m.Pieces)) {
				buf, err = seed.ReadPiece(i, buf)
				mustNil(t, err)
				if !VerifyPiece(ts.m, i, buf) {
					t.Fatalf("seed piece %d does not verify", i)
				}
				mustNil(t, fetch.WritePiece(i, buf))
				held[i] = true
				wantHeld(t, fetch, held)
			}
			mustNil(t, fetch.Complete())
			ts.checkTree(t, dest)
			if got := fetch.Path(); got != dest {
				t.Errorf("Path() after Complete = %q, want %q", got, dest)
			}
			for _, p := range []string{dest + PartSuffix, dest + StateSuffix} {
				if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still exists after Complete (err %v)", p, err)
				}
			}
			for i := range ts.m.Pieces {
				got, err := fetch.ReadPiece(i, nil)
				mustNil(t, err)
				if !bytes.Equal(got, ts.piece(i)) {
					t.Errorf("piece %d read after Complete differs", i)
				}
			}
			mustNil(t, fetch.Complete()) // a second Complete does nothing
			mustNil(t, fetch.Close())
			mustNil(t, fetch.Close())
			if _, err := fetch.ReadPiece(0, nil); err == nil && len(ts.m.Pieces) > 0 {
				t.Error("ReadPiece after Close succeeded")
			}
		})
	}
}

func TestOpenSeedRefusesMismatch(t *testing.T) {
	ts := testShares(t, 1)["nested folder"]
	tests := []struct {
		name  string
		spoil func(root string) error
		want  []string
	}{
		{"file too short", func(root string) error {
			return os.Truncate(filepath.Join(root, "z.bin"), 700)
		}, []string{"z.bin", "700", "777"}},
		{"file too long", func(root string) error {
			return os.WriteFile(filepath.Join(root, "a", "tiny"), []byte("four"), 0o644)
		}, []string{"tiny", "4", "3"}},
		{"file missing", func(root string) error {
			return os.Remove(filepath.Join(root, "a", "x.bin"))
		}, []string{"x.bin"}},
		{"folder is a file", func(root string) error {
			p := filepath.Join(root, "emptydir")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, nil, 0o644)
		}, []string{"emptydir", "not a folder"}},
		{"file is a folder", func(root string) error {
			p := filepath.Join(root, "a", "empty.txt")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o755)
		}, []string{"empty.txt", "not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "tree")
			ts.writeTo(t, root)
			mustNil(t, tt.spoil(root))
			s, err := OpenSeed(ts.m, root)
			if err == nil {
				s.Close()
				t.Fatal("OpenSeed succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOpenFetchRefusesExistingDest(t *testing.T) {
	ts := testShares(t, 1)["single file"]
	tests := []struct {
		name   string
		create func(dest string) error
	}{
		{"file", func(dest string) error { return os.WriteFile(dest, []byte("mine"), 0o644) }},
		{"folder", func(dest string) error { return os.Mkdir(dest, 0o755) }},
		{"dangling symlink", func(dest string) error { return os.Symlink("nowhere", dest) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "one.bin")
			if err := tt.create(dest); err != nil {
				t.Skipf("cannot create %s here: %v", tt.name, err)
			}
			s, err := OpenFetch(ts.m, dest)
			if err == nil {
				s.Close()
				t.Fatal("OpenFetch succeeded")
			}
			if !strings.Contains(err.Error(), dest) {
				t.Errorf("error %q does not name %s", err, dest)
			}
			if _, err := os.Lstat(dest + PartSuffix); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("partial path created despite refusal (err %v)", err)
			}
		})
	}
}

func TestRefusesEscapingPaths(t *testing.T) {
	for _, bad := range []string{"../x", "a/../../x", "../../x", "/abs/x", "", "a/.."} {
		ts := makeShare(t, "evil", 16, []testEntry{
			{path: "a", dir: true},
			{path: "a/ok", data: []byte("fine")},
			{path: bad, data: []byte("escaped!")},
		})
		for _, open := range []struct {
			name string
			fn   func(*manifest.Manifest, string) (*Storage, error)
		}{{"OpenSeed", OpenSeed}, {"OpenFetch", OpenFetch}} {
			t.Run(open.name+"/"+bad, func(t *testing.T) {
				base := t.TempDir()
				work := filepath.Join(base, "work")
				mustNil(t, os.Mkdir(work, 0o755))
				s, err := open.fn(ts.m, filepath.Join(work, "evil"))
				if err == nil {
					s.Close()
					t.Fatal("open succeeded")
				}
				if want := `"` + bad + `"`; !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name the path %s", err, want)
				}
				var found []string
				filepath.WalkDir(base, func(p string, _ fs.DirEntry, _ error) error {
					if p != base && p != work {
						found = append(found, p)
					}
					return nil
				})
				if len(found) > 0 {
					t.Errorf("refused open created %q", found)
				}
			})
		}
	}
}

func TestReadAtMatchesOracle(t *testing.T) {
	for name, ts := range testShares(t, 3) {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), ts.m.Name)
			ts.writeTo(t, root)
			s, err := OpenSeed(ts.m, root)
			mustNil(t, err)
			defer s.Close()
			total := int64(len(ts.content))
			r := rand.New(rand.NewPCG(4, 4))
			for range 500 {
				off := r.Int64N(total + 20)
				p := make([]byte, r.IntN(int(total)+40))
				n, err := s.ReadAt(p, off)
				// The oracle: slice the concatenated content.
				var want []byte
				if off < total {
					want = ts.content[off:min(off+int64(len(p)), total)]
				}
				wantErr := error(nil)
				if len(want) < len(p) {
					wantErr = io.EOF
				}
				if n != len(want) || !bytes.Equal(p[:n], want) || err != wantErr {
					t.Fatalf("ReadAt(len %d, off %d) = %d, %v; want %d, %v", len(p), off, n, err, len(want), wantErr)
				}
			}
			if _, err := s.ReadAt(make([]byte, 1), -1); err == nil || err == io.EOF {
				t.Errorf("ReadAt at offset -1: err %v, want a non-EOF error", err)
			}
		})
	}
}

func TestPieceArgumentErrors(t *testing.T) {
	ts := testShares(t, 1)["single file"] // 16 pieces; the last has 40 bytes
	s, err := OpenFetch(ts.m, filepath.Join(t.TempDir(), "one.bin"))
	mustNil(t, err)
	defer s.Close()
	last := len(ts.m.Pieces) - 1
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"short piece", func() error { return s.WritePiece(0, make([]byte, 63)) }, "piece 0 has 63 bytes, want 64"},
		{"long piece", func() error { return s.WritePiece(0, make([]byte, 65)) }, "piece 0 has 65 bytes, want 64"},
		{"full-size last piece", func() error { return s.WritePiece(last, make([]byte, 64)) }, "piece 15 has 64 bytes, want 40"},
		{"write out of range", func() error { return s.WritePiece(16, nil) }, "piece 16 out of range"},
		{"write negative", func() error { return s.WritePiece(-1, nil) }, "piece -1 out of range"},
		{"read not held", func() error { _, err := s.ReadPiece(3, nil); return err }, "piece 3 is not held"},
		{"read out of range", func() error { _, err := s.ReadPiece(99, nil); return err }, "piece 99 out of range"},
		{"complete too early", s.Complete, "16 of 16 pieces missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	wantHeld(t, s, nil)
}

func TestReadPieceReusesBuffer(t *testing.T) {
	ts := testShares(t, 1)["single file"]
	root := filepath.Join(t.TempDir(), "one.bin")
	ts.writeTo(t, root)
	s, err := OpenSeed(ts.m, root)
	mustNil(t, err)
	defer s.Close()
	buf := make([]byte, 7, 100)
	got, err := s.ReadPiece(1, buf)
	mustNil(t, err)
	if &got[0] != &buf[:1][0] || !bytes.Equal(got, ts.piece(1)) {
		t.Errorf("ReadPiece did not reuse a large enough buffer, or read wrong bytes")
	}
}

func TestVerifyPiece(t *testing.T) {
	ts := testShares(t, 1)["single file"]
	flipped := bytes.Clone(ts.piece(2))
	flipped[5] ^= 1
	tests := []struct {
		name string
		i    int
		data []byte
		want bool
	}{
		{"good", 2, ts.piece(2), true},
		{"good last", 15, ts.piece(15), true},
		{"flipped bit", 2, flipped, false},
		{"wrong piece", 3, ts.piece(2), false},
		{"truncated", 2, ts.piece(2)[:10], false},
		{"out of range", 16, ts.piece(2), false},
		{"negative", -1, ts.piece(2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyPiece(ts.m, tt.i, tt.data); got != tt.want {
				t.Errorf("VerifyPiece(%d) = %v, want %v", tt.i, got, tt.want)
			}
		})
	}
}
