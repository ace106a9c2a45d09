package manifest

import "sort"

// Span is one contiguous byte range of one file that a piece covers.
type Span struct {
	Entry  int   // index into Manifest.Entries
	Offset int64 // where the range starts within the file
	Len    int64 // bytes; always > 0
}

// Layout maps pieces to file byte ranges for one manifest. It is computed once
// in O(len(Entries)) by Manifest.Layout and is immutable afterwards, so it is
// safe for concurrent use and unaffected by later changes to the manifest.
type Layout struct {
	pieceSize int64
	total     int64
	numPieces int
	offsets   []int64 // content offset of every entry
	files     []int   // indices of entries with Size > 0, in order
	starts    []int64 // starts[k] is the content offset of entry files[k]
	sizes     []int64 // sizes[k] is the size of entry files[k]
}

// Layout precomputes where each file sits in the share's content. m must be
// valid (see Validate). Keep the result rather than calling Layout per piece:
// Spans on it costs O(log files + spans).
func (m *Manifest) Layout() *Layout {
	l := &Layout{
		pieceSize: m.PieceSize,
		numPieces: len(m.Pieces),
		offsets:   make([]int64, len(m.Entries)),
	}
	for i, e := range m.Entries {
		l.offsets[i] = l.total
		if e.Size > 0 {
			l.files = append(l.files, i)
			l.starts = append(l.starts, l.total)
			l.sizes = append(l.sizes, e.Size)
			l.total += e.Size
		}
	}
	return l
}

// FileSpans returns the file byte ranges piece i covers, in content order,
// or nil if there is no piece i. It recomputes the layout on every call;
// callers asking about many pieces should keep m.Layout() instead.
func (m *Manifest) FileSpans(piece int) []Span { return m.Layout().Spans(piece) }

// TotalSize is the number of content bytes.
func (l *Layout) TotalSize() int64 { return l.total }

// NumPieces is the number of pieces.
func (l *Layout) NumPieces() int { return l.numPieces }

// PieceLen is the length in bytes of piece i, or 0 if there is no piece i.
func (l *Layout) PieceLen(i int) int64 {
	if i < 0 || i >= l.numPieces {
		return 0
	}
	return min(l.pieceSize, l.total-int64(i)*l.pieceSize)
}

// FileOffset is where entry i's bytes start in the share's content. Folders
// and empty files have the offset at which they would start. It panics if
// there is no entry i, like a slice index.
func (l *Layout) FileOffset(i int) int64 { return l.offsets[i] }

// Spans returns the file byte ranges piece i covers, in content order, or nil
// if there is no piece i. Empty files and folders never appear.
func (l *Layout) Spans(piece int) []Span {
	if piece < 0 || piece >= l.numPieces {
		return nil
	}
	start := int64(piece) * l.pieceSize
	end := start + l.PieceLen(piece)
	// The last file starting at or before start holds the piece's first byte.
	k := max(0, sort.Search(len(l.starts), func(k int) bool { return l.starts[k] > start })-1)
	var spans []Span
	for ; k < len(l.starts) && l.starts[k] < end; k++ {
		from := max(start, l.starts[k])
		to := min(end, l.starts[k]+l.sizes[k])
		spans = append(spans, Span{Entry: l.files[k], Offset: from - l.starts[k], Len: to - from})
	}
	return spans
}
