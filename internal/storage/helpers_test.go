package storage

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// testEntry is one file or folder of a test share, with its content.
type testEntry struct {
	path string
	data []byte
	dir  bool
}

// testShare is a share built in memory for a test: its manifest, its entries
// with their bytes, and the whole content concatenated.
type testShare struct {
	m       *manifest.Manifest
	entries []testEntry
	content []byte
}

// makeShare hashes entries into a manifest with the given piece size. It is
// independent of manifest.Build on purpose: the tests need shares with tiny
// pieces that Build would never make.
func makeShare(t testing.TB, name string, pieceSize int64, entries []testEntry) testShare {
	t.Helper()
	m := &manifest.Manifest{Name: name, PieceSize: pieceSize}
	var content []byte
	for _, e := range entries {
		m.Entries = append(m.Entries, manifest.Entry{Path: e.path, Size: int64(len(e.data)), Dir: e.dir})
		content = append(content, e.data...)
	}
	for off := int64(0); off < int64(len(content)); off += pieceSize {
		m.Pieces = append(m.Pieces, sha256.Sum256(content[off:min(off+pieceSize, int64(len(content)))]))
	}
	return testShare{m: m, entries: entries, content: content}
}

// piece returns the bytes of piece i.
func (ts testShare) piece(i int) []byte {
	off := int64(i) * ts.m.PieceSize
	return ts.content[off : off+ts.m.PieceLen(i)]
}

// entryFile is where entry e lives under root.
func (ts testShare) entryFile(root string, e testEntry) string {
	if !ts.m.IsDir() {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(e.path))
}

// writeTo creates the share's files and folders at root.
func (ts testShare) writeTo(t testing.TB, root string) {
	t.Helper()
	if ts.m.IsDir() {
		mustNil(t, os.MkdirAll(root, 0o755))
	}
	for _, e := range ts.entries {
		p := ts.entryFile(root, e)
		if e.dir {
			mustNil(t, os.MkdirAll(p, 0o755))
			continue
		}
		mustNil(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mustNil(t, os.WriteFile(p, e.data, 0o644))
	}
}

// checkTree fails t unless root holds exactly the share's entries with
// their bytes.
func (ts testShare) checkTree(t testing.TB, root string) {
	t.Helper()
	for _, e := range ts.entries {
		p := ts.entryFile(root, e)
		if e.dir {
			if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
				t.Errorf("folder %s: stat %v, err %v", p, fi, err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("reading %s: %v", p, err)
		} else if !bytes.Equal(got, e.data) {
			t.Errorf("file %s: %d bytes differ from the %d source bytes", p, len(got), len(e.data))
		}
	}
}

// locate maps content offset off to the file holding it and the offset
// within that file, by walking the entries byte by byte: a slow oracle.
func (ts testShare) locate(root string, off int64) (string, int64) {
	for _, e := range ts.entries {
		if off < int64(len(e.data)) {
			return ts.entryFile(root, e), off
		}
		off -= int64(len(e.data))
	}
	panic("offset beyond content")
}

// randBytes returns n random bytes from r.
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testShares are the shapes every round-trip test runs on, built with
// random bytes from seed so that two seeds give two different shares.
func testShares(t testing.TB, seed uint64) map[string]testShare {
	r := rand.New(rand.NewPCG(seed, 1))
	return map[string]testShare{
		"single file":              makeShare(t, "one.bin", 64, []testEntry{{data: randBytes(r, 1000)}}),
		"single file exact pieces": makeShare(t, "exact.bin", 16, []testEntry{{data: randBytes(r, 128)}}),
		"single empty file":        makeShare(t, "empty.bin", 64, []testEntry{{data: nil}}),
		"empty folder":             makeShare(t, "nothing", 64, []testEntry{{path: "sub", dir: true}}),
		"nested folder": makeShare(t, "tree", 32, []testEntry{
			{path: "a", dir: true},
			{path: "a/b", dir: true},
			{path: "a/b/deep.bin", data: randBytes(r, 300)},
			{path: "a/empty.txt", data: nil},
			{path: "a/tiny", data: randBytes(r, 3)},
			{path: "a/x.bin", data: randBytes(r, 50)},
			{path: "emptydir", dir: true},
			{path: "z.bin", data: randBytes(r, 777)},
		}),
	}
}

// mustNil fails t at once if err is not nil.
func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantHeld fails t unless s holds exactly the pieces in want.
func wantHeld(t testing.TB, s *Storage, want map[int]bool) {
	t.Helper()
	n := 0
	for i := range s.m.Pieces {
		if s.Have(i) != want[i] {
			t.Errorf("Have(%d) = %v, want %v", i, s.Have(i), want[i])
		}
		if want[i] {
			n++
		}
	}
	if got := s.HaveCount(); got != n {
		t.Errorf("HaveCount() = %d, want %d", got, n)
	}
	bf := s.Bitfield()
	if len(bf) != (len(s.m.Pieces)+7)/8 {
		t.Fatalf("Bitfield() has %d bytes, want %d", len(bf), (len(s.m.Pieces)+7)/8)
	}
	for i := range len(bf) * 8 {
		if got := bf[i/8]&(0x80>>(i%8)) != 0; got != want[i] {
			t.Errorf("Bitfield bit %d = %v, want %v", i, got, want[i])
		}
	}
}
