package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenVerified opens content on disk that matches its share, or not,
// with one and several workers: a match holds every piece and serves it; a
// mismatch is refused with a *MismatchError that counts the pieces that
// matched and names the first that did not, and the content is untouched.
func TestOpenVerified(t *testing.T) {
	shares := testShares(t, 7)
	flip := func(root, file string, off int64) func(testShare) {
		return func(ts testShare) {
			p := root
			if file != "" {
				p = filepath.Join(root, file)
			}
			b, err := os.ReadFile(p)
			mustNil(t, err)
			b[off] ^= 0xff
			mustNil(t, os.WriteFile(p, b, 0o644))
		}
	}
	for _, tt := range []struct {
		name    string
		share   string
		tamper  func(root string) func(testShare)
		want    *MismatchError // nil: it verifies
		wantErr error
	}{
		{name: "single file", share: "single file"},
		{name: "exact pieces", share: "single file exact pieces"},
		{name: "empty file", share: "single empty file"},
		{name: "empty folder", share: "empty folder"},
		{name: "nested folder", share: "nested folder"},
		{
			name: "single file, piece 3 and 9 flipped", share: "single file",
			tamper: func(root string) func(testShare) {
				return func(ts testShare) { flip(root, "", 3*64+5)(ts); flip(root, "", 9*64)(ts) }
			},
			want: &MismatchError{Matched: 14, Pieces: 16, FirstBad: 3, FirstBadOffset: 192, FirstBadLen: 64},
		},
		{
			name: "single file, short last piece flipped", share: "single file",
			tamper: func(root string) func(testShare) { return flip(root, "", 999) },
			want:   &MismatchError{Matched: 15, Pieces: 16, FirstBad: 15, FirstBadOffset: 960, FirstBadLen: 40},
		},
		{
			name: "nested folder, z.bin flipped", share: "nested folder",
			// z.bin starts at content offset 353: piece 11 holds 353+10.
			tamper: func(root string) func(testShare) { return flip(root, "z.bin", 10) },
			want:   &MismatchError{Matched: 35, Pieces: 36, FirstBad: 11, FirstBadOffset: 352, FirstBadLen: 32},
		},
		{
			name: "single file one byte short", share: "single file",
			tamper: func(root string) func(testShare) {
				return func(testShare) { mustNil(t, os.Truncate(root, 999)) }
			},
			want: &MismatchError{Size: 999, WantSize: 1000},
		},
		{
			name: "missing", share: "single file",
			tamper: func(root string) func(testShare) {
				return func(testShare) { mustNil(t, os.Remove(root)) }
			},
			wantErr: os.ErrNotExist,
		},
	} {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d workers", tt.name, workers), func(t *testing.T) {
				ts := shares[tt.share]
				root := filepath.Join(t.TempDir(), ts.m.Name)
				ts.writeTo(t, root)
				if tt.tamper != nil {
					tt.tamper(root)(ts)
				}
				before := snapshot(t, root)
				var calls int
				var last int64
				s, err := OpenVerified(context.Background(), ts.m, root, VerifyOptions{
					Workers:  workers,
					Progress: func(done, total int64) { calls++; last = done },
				})
				if after := snapshot(t, root); after != before {
					t.Errorf("content changed by OpenVerified:\n%s\nwant\n%s", after, before)
				}
				switch {
				case tt.wantErr != nil:
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("OpenVerified: %v, want an error wrapping %v", err, tt.wantErr)
					}
				case tt.want != nil:
					var me *MismatchError
					if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
						t.Fatalf("OpenVerified: %v, want a *MismatchError", err)
					}
					tt.want.Path = me.Path
					if *me != *tt.want {
						t.Errorf("mismatch %+v, want %+v", *me, *tt.want)
					}
					if tt.want.Size == tt.want.WantSize && !strings.Contains(err.Error(), fmt.Sprintf("first bad piece is %d", tt.want.FirstBad)) {
						t.Errorf("error %q does not name the first bad piece", err)
					}
				default:
					mustNil(t, err)
					defer s.Close()
					wantAll := map[int]bool{}
					for i := range ts.m.Pieces {
						wantAll[i] = true
						if b, err := s.ReadPiece(i, nil); err != nil || string(b) != string(ts.piece(i)) {
							t.Errorf("ReadPiece(%d): %v", i, err)
						}
					}
					wantHeld(t, s, wantAll)
					if len(ts.m.Pieces) > 0 && last != ts.m.TotalSize() {
						t.Errorf("Progress ended at %d of %d bytes after %d calls", last, ts.m.TotalSize(), calls)
					}
				}
			})
		}
	}
}

// TestOpenVerifiedStopsWithContext: a cancelled ctx ends the hashing with
// ctx's error.
func TestOpenVerifiedStopsWithContext(t *testing.T) {
	ts := testShares(t, 8)["nested folder"]
	root := filepath.Join(t.TempDir(), ts.m.Name)
	ts.writeTo(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenVerified(ctx, ts.m, root, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenVerified with a cancelled ctx: %v, want context.Canceled", err)
	}
}

// snapshot lists every file under root with its bytes and modification
// time, so that a test sees any change.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %v", p, fi.Mode(), fi.Size(), fi.ModTime())
		if fi.Mode().IsRegular() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", c)
		}
		b.WriteByte('\n')
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return b.String()
}
