package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeedFileChanged: a seeded file changes on disk under the seed. A
// piece that still matches is served; one overwritten in place (even with
// the modification time put back) or a file of another size is refused
// with ErrChanged, which names the file and says serving stopped.
func TestSeedFileChanged(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	ts := makeShare(t, "image.bin", 16, []testEntry{{data: randBytes(r, 64)}})
	for _, c := range []struct {
		name   string
		change func(t *testing.T, path string)
		ok     []int // pieces still served
		bad    int   // a piece refused
		says   string
	}{
		{"unchanged", func(*testing.T, string) {}, []int{0, 1, 2, 3}, -1, ""},
		{"touched, same bytes", func(t *testing.T, p string) {
			later := time.Now().Add(time.Hour)
			mustNil(t, os.Chtimes(p, later, later))
		}, []int{0, 1, 2, 3}, -1, ""},
		{"piece 2 overwritten in place", func(t *testing.T, p string) { overwrite(t, p, 2*16, false) }, []int{0, 1, 3}, 2, "piece 2 no longer matches"},
		{"overwritten, modification time put back", func(t *testing.T, p string) { overwrite(t, p, 16, true) }, []int{0, 2, 3}, 1, "piece 1 no longer matches"},
		{"grown", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			mustNil(t, err)
			_, err = f.Write([]byte("more"))
			mustNil(t, errors.Join(err, f.Close()))
		}, nil, 0, "has 68 bytes, 64 when it was shared"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "image.bin")
			ts.writeTo(t, p)
			s, err := OpenSeed(ts.m, p)
			mustNil(t, err)
			defer s.Close()
			c.change(t, p)
			for _, i := range c.ok {
				got, err := s.ReadPiece(i, nil)
				if err != nil || !bytes.Equal(got, ts.piece(i)) {
					t.Errorf("piece %d: %v, want it served as shared", i, err)
				}
			}
			if c.bad < 0 {
				return
			}
			_, err = s.ReadPiece(c.bad, nil)
			if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "stopped serving") {
				t.Fatalf("piece %d: %v, want ErrChanged naming %s and saying %q", c.bad, err, p, c.says)
			}
		})
	}
}

// overwrite flips the 16 bytes at off of the file at p in place; with
// keepTime it puts the modification time back as it was.
func overwrite(t *testing.T, p string, off int64, keepTime bool) {
	t.Helper()
	fi, err := os.Stat(p)
	mustNil(t, err)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	mustNil(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{0xA5}, 16), off)
	mustNil(t, errors.Join(err, f.Close()))
	if keepTime {
		mustNil(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	}
}
