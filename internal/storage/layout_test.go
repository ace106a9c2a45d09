package storage

import (
	"math/rand/v2"
	"testing"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// byteLoc is where one content byte lives: a manifest entry and an offset.
type byteLoc struct {
	entry int
	off   int64
}

// naiveLocations lists the location of every content byte of m, in order.
func naiveLocations(m *manifest.Manifest) []byteLoc {
	var locs []byteLoc
	for i, e := range m.Entries {
		for off := range e.Size {
			locs = append(locs, byteLoc{i, off})
		}
	}
	return locs
}

func TestLayoutEachMatchesNaive(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int64 // negative: a folder
	}{
		{"one file", []int64{100}},
		{"empty files and folders", []int64{-1, 0, 7, 0, -1, 0, 13, 1, 0}},
		{"only empty", []int64{0, -1, 0}},
		{"many tiny files", []int64{1, 1, 2, 1, 3, 1, 1, 5, 1, 1}},
		{"random", nil},
	}
	r := rand.New(rand.NewPCG(10, 10))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes := tt.sizes
			if sizes == nil {
				for range 40 {
					sizes = append(sizes, r.Int64N(30)-3)
				}
			}
			m := &manifest.Manifest{}
			for _, sz := range sizes {
				m.Entries = append(m.Entries, manifest.Entry{Size: max(sz, 0), Dir: sz < 0})
			}
			lay := newLayout(m)
			locs := naiveLocations(m)
			if lay.total != int64(len(locs)) {
				t.Fatalf("total = %d, want %d", lay.total, len(locs))
			}
			for range 300 {
				off := r.Int64N(lay.total + 1)
				n := r.Int64N(lay.total - off + 1)
				var got []byteLoc
				next := 0
				err := lay.each(off, n, func(f int, fileOff int64, lo, hi int) error {
					if lo != next || hi <= lo {
						t.Fatalf("each(%d, %d): span [%d, %d) after %d", off, n, lo, hi, next)
					}
					next = hi
					for k := range int64(hi - lo) {
						got = append(got, byteLoc{lay.files[f].entry, fileOff + k})
					}
					return nil
				})
				mustNil(t, err)
				want := locs[off : off+n]
				if len(got) != len(want) {
					t.Fatalf("each(%d, %d) covered %d bytes, want %d", off, n, len(got), len(want))
				}
				for k := range want {
					if got[k] != want[k] {
						t.Fatalf("each(%d, %d): byte %d at %v, want %v", off, n, k, got[k], want[k])
					}
				}
			}
		})
	}
}
