package p2pshare

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUploadBudget: a first seeder on a budget of one copy, much faster
// than the class it seeds (which would otherwise take most of the share
// from it), uploads about one copy and every member still gets the whole
// share, from the others.
func TestUploadBudget(t *testing.T) {
	const members, size, piece = 6, 1 << 20, 16 << 10 // 64 pieces
	boot := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	nodes := make([]*Swarm, members)
	for i := range nodes {
		nodes[i] = testNode(t, boot, func(c *Config) { c.UploadLimit = 128 << 10 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, want := randomFile(t, t.TempDir(), size)
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := boot.Share(ctx, src, ShareOptions{UploadBudget: bad})
		if err == nil || !strings.Contains(err.Error(), "upload budget") {
			t.Fatalf("budget %v: err = %v, want one naming the upload budget", bad, err)
		}
	}
	ih, err := boot.Share(ctx, src, ShareOptions{UploadBudget: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			out := filepath.Join(dir, fmt.Sprint(i))
			d, err := nd.Fetch(ctx, ih, FetchOptions{Out: out})
			if err != nil {
				t.Errorf("member %d: %v", i, err)
				return
			}
			if err := d.Wait(ctx); err != nil {
				p := d.Progress()
				t.Errorf("member %d: %v with %d of %d pieces", i, err, p.Pieces, p.TotalPieces)
				return
			}
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
				t.Errorf("member %d: fetched file differs from the source (%v)", i, err)
			}
		})
	}
	wg.Wait()
	p, _ := boot.Progress(ih)
	t.Logf("seeder sent %.2f copies", float64(p.Uploaded)/size)
	if t.Failed() {
		return
	}
	// Ten pieces of slack: a reveal may go past the budget by a window
	// (two pieces), and pieces sent and not yet heard of count twice.
	if limit := int64(size + 10*piece); p.Uploaded > limit {
		t.Errorf("on a budget of one copy the seeder sent %.2f copies", float64(p.Uploaded)/size)
	}
}

// TestUploadBudgetMemberLeaves: a member of a class on a budget leaves
// abruptly half-way, with pieces it may have been the only one to hold;
// the rest still get the whole share.
func TestUploadBudgetMemberLeaves(t *testing.T) {
	const members, size = 5, 1 << 20 // 64 pieces of 16 KiB
	boot := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	nodes := make([]*Swarm, members)
	for i := range nodes {
		nodes[i] = testNode(t, boot, func(c *Config) { c.UploadLimit = 128 << 10 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, want := randomFile(t, t.TempDir(), size)
	ih, err := boot.Share(ctx, src, ShareOptions{UploadBudget: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() {
			out := filepath.Join(dir, fmt.Sprint(i))
			d, err := nd.Fetch(ctx, ih, FetchOptions{Out: out})
			if err != nil {
				t.Errorf("member %d: %v", i, err)
				return
			}
			if i == 0 {
				// The leaver: gone once it holds a quarter of the share.
				for e := range d.Events() {
					if e.Kind == EventPiece && d.Progress().Pieces >= 16 {
						break
					}
				}
				nd.Close()
				return
			}
			if err := d.Wait(ctx); err != nil {
				p := d.Progress()
				t.Errorf("member %d: %v with %d of %d pieces", i, err, p.Pieces, p.TotalPieces)
				return
			}
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
				t.Errorf("member %d: fetched file differs from the source (%v)", i, err)
			}
		})
	}
	wg.Wait()
}
