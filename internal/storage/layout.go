package storage

import (
	"sort"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// layoutFile is one regular file that holds content bytes: a non-empty file
// entry of the manifest, with the content offset where its bytes begin.
type layoutFile struct {
	entry int    // index into Manifest.Entries
	path  string // the entry's slash-separated Path, for error messages
	start int64  // content offset of the file's first byte
	size  int64  // bytes; always > 0
}

// layout maps content offsets to files. It is a prefix sum over the sizes of
// the manifest's regular files, skipping folders and empty files, which hold
// no content bytes. It is immutable once built.
type layout struct {
	files []layoutFile
	total int64
}

// newLayout builds the layout of m. It trusts that sizes are non-negative;
// checkManifest verifies that first.
func newLayout(m *manifest.Manifest) layout {
	var l layout
	for i, e := range m.Entries {
		if e.Dir || e.Size == 0 {
			continue
		}
		l.files = append(l.files, layoutFile{entry: i, path: e.Path, start: l.total, size: e.Size})
		l.total += e.Size
	}
	return l
}

// each calls fn once for every file span covering the content range
// [off, off+n), in content order. fn gets the layout file index, the offset
// within that file, and the span's bounds lo:hi relative to off. The range
// must lie within [0, total]; each stops at the first error fn returns.
func (l *layout) each(off, n int64, fn func(file int, fileOff int64, lo, hi int) error) error {
	// The first file whose end lies beyond off holds the byte at off.
	i := sort.Search(len(l.files), func(i int) bool {
		return l.files[i].start+l.files[i].size > off
	})
	var done int64
	for ; done < n && i < len(l.files); i++ {
		f := l.files[i]
		fileOff := off + done - f.start
		k := min(f.size-fileOff, n-done)
		if err := fn(i, fileOff, int(done), int(done+k)); err != nil {
			return err
		}
		done += k
	}
	return nil
}
