package storage

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestMemoryRoundTrip: every test share written into memory piece by
// piece, in reverse, from two writers at once, reads back whole through
// ReadAt, ReadPiece and Bytes; Bytes refuses until the last piece.
func TestMemoryRoundTrip(t *testing.T) {
	for name, ts := range testShares(t, 7) {
		t.Run(name, func(t *testing.T) {
			s, err := OpenMemory(ts.m, int64(len(ts.content)))
			mustNil(t, err)
			n := len(ts.m.Pieces)
			for i := n - 1; i >= 0; i-- {
				if n > 0 {
					if _, err := s.Bytes(); err == nil {
						t.Fatalf("Bytes with %d of %d pieces held succeeded", n-1-i, n)
					}
				}
				var wg sync.WaitGroup
				for range 2 { // the same piece from two links at once
					wg.Go(func() { mustNil(t, s.WritePiece(i, ts.piece(i))) })
				}
				wg.Wait()
				if !s.Have(i) {
					t.Fatalf("piece %d not held after WritePiece", i)
				}
				got, err := s.ReadPiece(i, nil)
				mustNil(t, err)
				if !bytes.Equal(got, ts.piece(i)) {
					t.Fatalf("ReadPiece(%d) differs", i)
				}
			}
			all, err := s.Bytes()
			mustNil(t, err)
			if !bytes.Equal(all, ts.content) {
				t.Fatal("Bytes differs from the content")
			}
			buf := make([]byte, len(ts.content)+5)
			k, err := s.ReadAt(buf, 0)
			if k != len(ts.content) || (err != io.EOF) {
				t.Fatalf("ReadAt past the end: %d, %v; want %d, io.EOF", k, err, len(ts.content))
			}
			if !bytes.Equal(buf[:k], ts.content) {
				t.Fatal("ReadAt differs from the content")
			}
			mustNil(t, s.Sync())
			mustNil(t, s.Complete())
			mustNil(t, s.Close())
			if _, err := s.ReadAt(buf, 0); !errors.Is(err, errClosed) {
				t.Fatalf("ReadAt after Close: %v", err)
			}
			if b, err := s.Bytes(); err != nil || !bytes.Equal(b, ts.content) {
				t.Fatalf("Bytes after Close: %v", err)
			}
		})
	}
}

// TestMemoryRefuses: a share over the limit, and bad pieces and offsets,
// get errors that say what was wrong.
func TestMemoryRefuses(t *testing.T) {
	ts := testShares(t, 8)["single file"] // 1000 bytes in pieces of 64
	if _, err := OpenMemory(ts.m, 999); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1000 bytes") || !strings.Contains(err.Error(), "999") {
		t.Fatalf("OpenMemory over the limit: %v, want ErrTooLarge naming both sizes", err)
	}
	s, err := OpenMemory(ts.m, 1000)
	mustNil(t, err)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"write out of range", s.WritePiece(16, nil), "piece 16 out of range [0, 16)"},
		{"write negative", s.WritePiece(-1, nil), "piece -1 out of range"},
		{"write short", s.WritePiece(0, []byte("x")), "piece 0 has 1 bytes, want 64"},
		{"write short last", s.WritePiece(15, make([]byte, 64)), "piece 15 has 64 bytes, want 40"},
		{"read not held", func() error { _, err := s.ReadPiece(3, nil); return err }(), "piece 3 is not held"},
		{"read negative offset", func() error { _, err := s.ReadAt(make([]byte, 1), -1); return err }(), "negative read offset -1"},
		{"bytes incomplete", func() error { _, err := s.Bytes(); return err }(), "0 of 16 pieces held"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
				t.Fatalf("%v, want an error containing %q", c.err, c.want)
			}
		})
	}
	mustNil(t, s.Close())
	if err := s.WritePiece(0, ts.piece(0)); !errors.Is(err, errClosed) {
		t.Fatalf("WritePiece after Close: %v", err)
	}
}
