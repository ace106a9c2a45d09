package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path → size, random content) and folders (path
// ending in "/") under a new temp dir and returns the dir.
func writeTree(t testing.TB, tree map[string]int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "share")
	r := rand.New(rand.NewPCG(7, 7))
	for p, size := range tree {
		full := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(p, "/")))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// naivePieces is the oracle: read every file whole, concatenate in manifest
// order, cut and hash.
func naivePieces(t *testing.T, root string, m *Manifest) []Hash {
	t.Helper()
	var all []byte
	for _, e := range m.Entries {
		if e.Dir {
			continue
		}
		p := root
		if e.Path != "" {
			p = filepath.Join(root, filepath.FromSlash(e.Path))
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	var pieces []Hash
	for len(all) > 0 {
		n := min(len(all), int(m.PieceSize))
		pieces = append(pieces, sha256.Sum256(all[:n]))
		all = all[n:]
	}
	return pieces
}

func TestBuildFolder(t *testing.T) {
	root := writeTree(t, map[string]int{
		"a.txt":       3000,
		"a/b/c.bin":   40 << 10,
		"a/empty.txt": 0,
		"emptydir/":   0,
		"z.bin":       70_000,
		"z/deep/x/y/": 0,
	})
	m, err := Build(context.Background(), root, BuildOptions{PieceSize: MinPieceSize})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{dir("a"), file("a.txt", 3000), dir("a/b"), file("a/b/c.bin", 40<<10), file("a/empty.txt", 0),
		dir("emptydir"), file("z.bin", 70_000), dir("z"), dir("z/deep"), dir("z/deep/x"), dir("z/deep/x/y")}
	if m.Name != "share" || !reflect.DeepEqual(m.Entries, sortedEntries(want)) {
		t.Fatalf("Build = %q %+v,\nwant %q %+v", m.Name, m.Entries, "share", sortedEntries(want))
	}
	checkBuilt(t, root, m)
	if len(m.Pieces) != 7 { // 3000 + 40960 + 70000 = 113960 bytes, 16 KiB pieces
		t.Fatalf("%d pieces, want 7", len(m.Pieces))
	}
}

// sortedEntries sorts a copy of es by path, the obvious way.
func sortedEntries(es []Entry) []Entry {
	out := append([]Entry(nil), es...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Path < out[i].Path {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// checkBuilt checks m is valid, round-trips, hashes like the oracle, and that
// reading each piece through its Layout spans gives the hashed bytes.
func checkBuilt(t *testing.T, root string, m *Manifest) {
	t.Helper()
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := Decode(b, 0); err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip: %v, %+v", err, back)
	}
	if want := naivePieces(t, root, m); !reflect.DeepEqual(m.Pieces, want) {
		t.Fatalf("pieces differ from the naive whole-content hashes: got %d, want %d", len(m.Pieces), len(want))
	}
	l := m.Layout()
	for i := range m.Pieces {
		var piece []byte
		for _, s := range l.Spans(i) {
			p := root
			if e := m.Entries[s.Entry]; e.Path != "" {
				p = filepath.Join(root, filepath.FromSlash(e.Path))
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			piece = append(piece, data[s.Offset:s.Offset+s.Len]...)
		}
		if sha256.Sum256(piece) != m.Pieces[i] {
			t.Fatalf("piece %d read through its spans does not match its hash", i)
		}
	}
}

func TestBuildSingleFile(t *testing.T) {
	for name, size := range map[string]int{"empty": 0, "one byte": 1, "one piece": 256 << 10, "several pieces": 600_000} {
		t.Run(name, func(t *testing.T) {
			root := writeTree(t, map[string]int{"f.bin": size})
			path := filepath.Join(root, "f.bin")
			m, err := Build(context.Background(), path, BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != "f.bin" || m.IsDir() || m.PieceSize != PieceSizeFor(int64(size)) || m.Entries[0].Size != int64(size) {
				t.Fatalf("Build = %+v", m)
			}
			checkBuilt(t, path, m)
		})
	}
}

func TestBuildEmptyFolder(t *testing.T) {
	root := writeTree(t, nil)
	m, err := Build(context.Background(), root, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsDir() || len(m.Entries) != 0 || len(m.Pieces) != 0 {
		t.Fatalf("Build = %+v, want an empty folder share", m)
	}
	checkBuilt(t, root, m)
}

func TestBuildProgress(t *testing.T) {
	root := writeTree(t, map[string]int{"a": 3 << 20, "b": 2<<20 + 5})
	var calls [][2]int64
	m, err := Build(context.Background(), root, BuildOptions{
		PieceSize: MinPieceSize,
		Progress:  func(done, total int64) { calls = append(calls, [2]int64{done, total}) },
	})
	if err != nil {
		t.Fatal(err)
	}
	total := m.TotalSize()
	if len(calls) < 2 || len(calls) > 6 || calls[len(calls)-1] != [2]int64{total, total} {
		t.Fatalf("Progress calls %v, want a few ending at (%d, %d)", calls, total, total)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Fatalf("Progress went backwards: %v", calls)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		tree   map[string]int
		link   string // if set, a symlink at this path inside the root
		path   string // relative to the root; "" is the root
		opts   BuildOptions
		ctx    context.Context
		want   error
		detail string
	}{
		{name: "symlink", tree: map[string]int{"a": 1}, link: "sub/ln", want: ErrUnsupportedFile, detail: "ln\" is a symbolic link"},
		{name: "bad piece size", tree: map[string]int{"a": 1}, opts: BuildOptions{PieceSize: 3}, want: ErrInvalid, detail: "piece size 3 is not a power of two"},
		{name: "missing", path: "nope", want: fs.ErrNotExist, detail: "nope"},
		{name: "colon in a name", tree: map[string]int{"x/a:b": 1}, want: ErrInvalid, detail: `"x/a:b" has component "a:b" that contains a colon`},
		{name: "case clash", tree: map[string]int{"A": 1, "a": 1}, want: ErrInvalid, detail: "differ only in case"},
		{name: "reserved name", tree: map[string]int{"nul.txt": 1}, want: ErrInvalid, detail: "reserved Windows device name"},
		{name: "canceled", tree: map[string]int{"a": 1}, ctx: canceled, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.tree)
			if tt.link != "" {
				p := filepath.Join(root, filepath.FromSlash(tt.link))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(root, "a"), p); err != nil {
					t.Skipf("cannot make symlinks here: %v", err)
				}
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			m, err := Build(ctx, filepath.Join(root, tt.path), tt.opts)
			if m != nil || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("Build = %v, %v; want %v containing %q", m, err, tt.want, tt.detail)
			}
		})
	}
}

// TestBuildFollowsRootSymlink: the path the user names may be a link.
func TestBuildFollowsRootSymlink(t *testing.T) {
	root := writeTree(t, map[string]int{"f": 10})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(root, "f"), link); err != nil {
		t.Skipf("cannot make symlinks here: %v", err)
	}
	m, err := Build(context.Background(), link, BuildOptions{})
	if err != nil || m.Name != "link" || m.TotalSize() != 10 {
		t.Fatalf("Build = %+v, %v", m, err)
	}
}

func BenchmarkBuild(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "big")
	if err := os.WriteFile(path, bytes.Repeat([]byte("p2pshare"), size/8), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Build(context.Background(), path, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildCancelMidway cancels from the first Progress call; Build must stop
// at the next piece rather than hash the rest.
func TestBuildCancelMidway(t *testing.T) {
	root := writeTree(t, map[string]int{"a": 4 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last int64
	_, err := Build(ctx, root, BuildOptions{PieceSize: MinPieceSize, Progress: func(done, _ int64) {
		last = done
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || last >= 4<<20 {
		t.Fatalf("Build = %v after %d bytes, want context.Canceled before the end", err, last)
	}
}

// TestHashFileNoticesChange: the size Build listed must be the size it reads.
func TestHashFileNoticesChange(t *testing.T) {
	root := writeTree(t, map[string]int{"f": 100})
	h := hasher{buf: make([]byte, MinPieceSize)}
	err := h.hashFile(context.Background(), filepath.Join(root, "f"), 99)
	if err == nil || !strings.Contains(err.Error(), "changed size while building, from 99 to 100 bytes") {
		t.Fatalf("hashFile = %v, want a changed-size error", err)
	}
}
