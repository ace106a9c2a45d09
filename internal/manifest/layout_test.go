package manifest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomManifest makes a valid manifest with a mix of folders, empty files,
// files smaller than, equal to and larger than a piece.
func randomManifest(r *rand.Rand) *Manifest {
	ps := int64(MinPieceSize) << r.IntN(3)
	if r.IntN(8) == 0 {
		return mk("f", ps, file("", r.Int64N(5*ps)))
	}
	var es []Entry
	for i := range r.IntN(20) {
		p := fmt.Sprintf("e%03d", i)
		switch r.IntN(6) {
		case 0:
			es = append(es, dir(p))
		case 1:
			es = append(es, file(p, 0))
		case 2:
			es = append(es, file(p, ps*int64(1+r.IntN(3))))
		case 3:
			es = append(es, file(p, ps*int64(r.IntN(4))+r.Int64N(ps)))
		default:
			es = append(es, file(p, 1+r.Int64N(100)))
		}
	}
	return mk("s", ps, es...)
}

// naiveSpans is the oracle: test every file for overlap with the piece.
func naiveSpans(m *Manifest, piece int) []Span {
	start := int64(piece) * m.PieceSize
	end := start + m.PieceLen(piece)
	var spans []Span
	var off int64
	for i, e := range m.Entries {
		from, to := max(start, off), min(end, off+e.Size)
		if !e.Dir && to > from {
			spans = append(spans, Span{Entry: i, Offset: from - off, Len: to - from})
		}
		off += e.Size
	}
	return spans
}

func TestLayoutAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 500 {
		m := randomManifest(r)
		if err := m.Validate(); err != nil {
			t.Fatalf("manifest %d: %v", n, err)
		}
		l := m.Layout()
		if l.TotalSize() != m.TotalSize() || l.NumPieces() != m.NumPieces() {
			t.Fatalf("manifest %d: layout size %d/%d pieces, want %d/%d", n, l.TotalSize(), l.NumPieces(), m.TotalSize(), m.NumPieces())
		}
		var off int64
		for i, e := range m.Entries {
			if got := l.FileOffset(i); got != off {
				t.Fatalf("manifest %d: FileOffset(%d) = %d, want %d", n, i, got, off)
			}
			off += e.Size
		}
		for i := -1; i <= m.NumPieces(); i++ {
			want := naiveSpans(m, i)
			if i < 0 || i >= m.NumPieces() {
				want = nil
			}
			if got := l.Spans(i); !reflect.DeepEqual(got, want) {
				t.Fatalf("manifest %d %+v: Spans(%d) = %+v, want %+v", n, m.Entries, i, got, want)
			}
			if got := m.FileSpans(i); !reflect.DeepEqual(got, want) {
				t.Fatalf("manifest %d: FileSpans(%d) = %+v, want %+v", n, i, got, want)
			}
			if got, want := l.PieceLen(i), m.PieceLen(i); got != want {
				t.Fatalf("manifest %d: PieceLen(%d) = %d, want %d", n, i, got, want)
			}
		}
	}
}
