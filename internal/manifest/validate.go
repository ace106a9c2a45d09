package manifest

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validate reports whether m obeys every rule of a manifest, and if not, the
// first rule it breaks; the error wraps ErrInvalid. Decode and Encode call it,
// so a manifest that crossed the network has been validated.
//
// The rules: Name is a valid path component (see ValidPath); PieceSize is a
// power of two in [MinPieceSize, MaxPieceSize]; Entries are either the
// single-file form (one regular file with an empty Path) or the folder form
// (valid, non-empty paths in strictly ascending byte order, folders of size
// 0, no size negative, no two paths equal under case folding, no regular file
// that is also the parent of another entry); the sizes sum without overflow;
// and there is exactly one piece hash per PieceSize bytes of content, the
// last piece possibly short.
func (m *Manifest) Validate() error {
	if err := m.validateShape(); err != nil {
		return err
	}
	total := m.TotalSize()
	if want := numPiecesFor(total, m.PieceSize); int64(len(m.Pieces)) != want {
		return errorf(ErrInvalid, "%d piece hashes for %d bytes in %d-byte pieces, want %d",
			len(m.Pieces), total, m.PieceSize, want)
	}
	return nil
}

// validateShape checks everything Validate does except the piece hashes, so
// Build can refuse a bad tree before spending time hashing it.
func (m *Manifest) validateShape() error {
	if prob := componentProblem(m.Name); prob != "" {
		return errorf(ErrInvalid, "name %s %s", quote(m.Name), prob)
	}
	if err := checkPieceSize(m.PieceSize); err != nil {
		return err
	}
	if !m.IsDir() {
		if s := m.Entries[0].Size; s < 0 {
			return errorf(ErrInvalid, "file size %d is negative", s)
		}
		return nil
	}
	var total int64
	for i, e := range m.Entries {
		if e.Path == "" {
			return errorf(ErrInvalid, "entry %d has an empty path, allowed only as the one file of a single-file share", i)
		}
		if prob := pathProblem(e.Path); prob != "" {
			return errorf(ErrInvalid, "entry %d: path %s %s", i, quote(e.Path), prob)
		}
		switch {
		case e.Size < 0:
			return errorf(ErrInvalid, "entry %s has negative size %d", quote(e.Path), e.Size)
		case e.Dir && e.Size != 0:
			return errorf(ErrInvalid, "folder entry %s has size %d, want 0", quote(e.Path), e.Size)
		case e.Size > math.MaxInt64-total:
			return errorf(ErrInvalid, "total size overflows at entry %s of size %d", quote(e.Path), e.Size)
		}
		total += e.Size
		if i > 0 {
			prev := m.Entries[i-1].Path
			if e.Path == prev {
				return errorf(ErrInvalid, "duplicate entry %s", quote(e.Path))
			}
			if e.Path < prev {
				return errorf(ErrInvalid, "entry %s is out of order after %s", quote(e.Path), quote(prev))
			}
		}
	}
	return checkClashes(m.Entries)
}

// checkPieceSize reports whether size is an allowed piece size.
func checkPieceSize(size int64) error {
	switch {
	case size <= 0:
		return errorf(ErrInvalid, "piece size %d is not positive", size)
	case size&(size-1) != 0:
		return errorf(ErrInvalid, "piece size %d is not a power of two", size)
	case size < MinPieceSize || size > MaxPieceSize:
		return errorf(ErrInvalid, "piece size %d is outside [%d, %d]", size, MinPieceSize, MaxPieceSize)
	}
	return nil
}

// numPiecesFor is ceil(total/pieceSize), without overflow.
func numPiecesFor(total, pieceSize int64) int64 {
	n := total / pieceSize
	if total%pieceSize != 0 {
		n++
	}
	return n
}

// checkClashes refuses two entries that would land on the same file on a
// case-insensitive file system (macOS, Windows), and a regular file that is
// also the parent of another entry ("a" and "a/b"). Both are checked on
// case-folded paths, sorted so that an entry's descendants are contiguous and
// one binary search per file finds them: O(n log n) however deep the paths.
func checkClashes(entries []Entry) error {
	type folded struct {
		key string
		i   int
	}
	keys := make([]folded, len(entries))
	for i, e := range entries {
		keys[i] = folded{foldKey(e.Path), i}
	}
	slices.SortFunc(keys, func(a, b folded) int { // ties by index: stable messages
		return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.i, b.i))
	})
	for j := 1; j < len(keys); j++ {
		if keys[j].key == keys[j-1].key {
			return errorf(ErrInvalid, "entries %s and %s differ only in case",
				quote(entries[keys[j-1].i].Path), quote(entries[keys[j].i].Path))
		}
	}
	for _, k := range keys {
		if entries[k.i].Dir {
			continue
		}
		prefix := k.key + "/"
		j := sort.Search(len(keys), func(j int) bool { return keys[j].key >= prefix })
		if j < len(keys) && strings.HasPrefix(keys[j].key, prefix) {
			return errorf(ErrInvalid, "file %s is also the parent of %s",
				quote(entries[k.i].Path), quote(entries[keys[j].i].Path))
		}
	}
	return nil
}

// foldKey maps s to a representative of its class under strings.EqualFold:
// each rune becomes the smallest rune of its simple case-folding orbit, so
// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b). Slashes map
// to themselves, so the key of a parent is a prefix of its child's key.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
