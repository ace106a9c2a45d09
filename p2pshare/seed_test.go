package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSeedServesAFinishedDownloadAfterRestart: a member fetches a share and
// closes; restarted from its DataDir, it seeds the file it has with Seed,
// and once the original seeder stops sharing, a third member fetches the
// whole share from it alone.
func TestSeedServesAFinishedDownloadAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, want := randomFile(t, dir, 1<<20)
	ih, err := boot.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}

	memberDir := filepath.Join(dir, "member")
	member := testNode(t, boot, func(c *Config) { c.DataDir = memberDir })
	out := filepath.Join(dir, "fetched.bin")
	d, err := member.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := member.Close(); err != nil {
		t.Fatal(err)
	}

	// The restart: the same DataDir, no invite, and the file on disk.
	again := testNode(t, nil, func(c *Config) { c.DataDir = memberDir; c.BootstrapPeers = []peer.AddrInfo{boot.AddrInfo()} })
	var hashed int64
	seeded, err := again.Seed(ctx, out, ih, SeedOptions{Progress: func(done, _ int64) { hashed = done }})
	if err != nil {
		t.Fatalf("Seed of the finished download: %v", err)
	}
	if hashed != int64(len(want)) {
		t.Errorf("Seed reported %d bytes hashed, want %d", hashed, len(want))
	}
	if err := seeded.Wait(ctx); err != nil {
		t.Fatalf("Wait on a seeded share: %v", err)
	}
	if p := seeded.Progress(); p.Pieces != p.TotalPieces || p.TotalPieces != 16 {
		t.Fatalf("seeded share holds %d of %d pieces, want 16 of 16", p.Pieces, p.TotalPieces)
	}
	if err := boot.Stop(ih); err != nil {
		t.Fatal(err)
	}

	third := testNode(t, boot, nil)
	out3 := filepath.Join(dir, "third.bin")
	d3, err := third.Fetch(ctx, ih, FetchOptions{Out: out3})
	if err != nil {
		t.Fatalf("third member's Fetch with only the restarted member sharing: %v", err)
	}
	if err := d3.Wait(ctx); err != nil {
		t.Fatalf("third member's download: %v", err)
	}
	if got, err := os.ReadFile(out3); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("third member's file: %d bytes, %v; want the %d shared bytes", len(got), err, len(want))
	}
	if up := seeded.Progress().Uploaded; up < int64(len(want)) {
		t.Errorf("the restarted member uploaded %d bytes, want the whole %d", up, len(want))
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Errorf("the seeded file changed: %d bytes, %v", len(got), err)
	}
}

// TestSeedRefusesWhatDoesNotMatch: Seed of a copy that is not the share's
// is refused with an error that says what matched, and the copy is left
// exactly as it was; nothing is served.
func TestSeedRefusesWhatDoesNotMatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, want := randomFile(t, dir, 1<<20)
	ih, err := boot.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	member := testNode(t, boot, nil)
	tampered := func(offs ...int) []byte {
		b := bytes.Clone(want)
		for _, off := range offs {
			b[off] ^= 1
		}
		return b
	}
	for _, tt := range []struct {
		name    string
		content []byte // nil: no file
		is      error
		says    []string
	}{
		{"pieces 5 and 9 flipped", tampered(5<<16+100, 9<<16), ErrMismatch,
			[]string{"14 of 16 pieces match", "first bad piece is 5", "bytes 327680 to 393216"}},
		{"last byte flipped", tampered(len(want) - 1), ErrMismatch,
			[]string{"15 of 16 pieces match", "first bad piece is 15"}},
		{"one byte short", want[:len(want)-1], ErrMismatch,
			[]string{fmt.Sprintf("has %d bytes, the share's has %d", len(want)-1, len(want))}},
		{"missing", nil, fs.ErrNotExist, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "copy.bin")
			if tt.content != nil {
				if err := os.WriteFile(p, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := member.Seed(ctx, p, ih, SeedOptions{})
			t.Logf("Seed: %v", err)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Seed: %v, want an error wrapping %v that names %s", err, tt.is, p)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Seed: %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "storage:") {
				t.Errorf("Seed: %q names an internal package", err)
			}
			if tt.content != nil {
				if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, tt.content) {
					t.Errorf("the refused copy changed: %d bytes, %v", len(got), err)
				}
			}
			if err := member.Stop(ih); err == nil {
				t.Errorf("the refused share is open on the member")
			}
		})
	}
}
