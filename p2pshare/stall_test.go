package p2pshare

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFetchStallEndsWithANamedError runs fetches whose only holder stops
// being one: a seeder whose copy is corrupt (it serves pieces that fail
// verification, and is banned), and a seeder that leaves part-way. Each fetch must say what it waits for (EventWaiting,
// Progress.Waiting) and, with nothing arriving for its StallTimeout, end
// with an error that wraps ErrStalled and names why.
func TestFetchStallEndsWithANamedError(t *testing.T) {
	tests := []struct {
		name string
		// holder starts the share's only holder in the network whose
		// bootstrap is boot.
		holder func(t *testing.T, boot *Swarm) *Swarm
		// corrupt has the holder serve other bytes than the share's, so
		// every piece it serves fails verification; leave closes the
		// holder once the fetch holds a piece.
		corrupt, leave bool
		want           Waiting
		wantInErr      string
	}{
		{
			name:      "seeder serves a corrupt copy",
			holder:    func(t *testing.T, boot *Swarm) *Swarm { return boot },
			corrupt:   true,
			want:      WaitingHoldersBanned,
			wantInErr: "every holder banned",
		},
		{
			name: "seeder leaves part-way",
			holder: func(t *testing.T, boot *Swarm) *Swarm {
				return testNode(t, boot, func(c *Config) { c.UploadLimit = 64 << 10 })
			},
			leave:     true,
			want:      WaitingNoHolder,
			wantInErr: "no holder reachable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			boot := testNode(t, nil, nil)
			holder := tt.holder(t, boot)
			src, _ := randomFile(t, dir, 1<<20)
			var ih Infohash
			var err error
			if tt.corrupt {
				ih = shareCorrupt(t, ctx, holder, src, 16<<10)
			} else if ih, err = holder.Share(ctx, src, ShareOptions{PieceSize: 16 << 10}); err != nil {
				t.Fatal(err)
			}
			leech := testNode(t, boot, nil)
			d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin"), StallTimeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			events := d.Events()
			if tt.leave {
				waitUntil(t, 30*time.Second, "the fetch never got a piece", func() bool { return d.Progress().Pieces > 0 })
				holder.Close()
			}
			var waited []Waiting
			var failed error
			for e := range events {
				switch e.Kind {
				case EventWaiting:
					waited = append(waited, e.Waiting)
				case EventFailed:
					failed = e.Err
				}
			}
			err = d.Wait(ctx)
			t.Logf("waited for %v; Wait: %v", waited, err)
			if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Wait: %v, want an error wrapping ErrStalled that says %q", err, tt.wantInErr)
			}
			if !errors.Is(failed, ErrStalled) || failed.Error() != err.Error() {
				t.Errorf("EventFailed carried %v, want Wait's error", failed)
			}
			if len(waited) == 0 || waited[len(waited)-1] != tt.want {
				t.Errorf("EventWaiting reported %v, want it to end on %v", waited, tt.want)
			}
			if got := d.Progress().Waiting; got != tt.want {
				t.Errorf("Progress().Waiting = %v, want %v", got, tt.want)
			}
			if got := d.Progress().Pieces; got == d.Progress().TotalPieces {
				t.Errorf("the fetch holds all %d pieces; the test wants it stuck", got)
			}
		})
	}
}
