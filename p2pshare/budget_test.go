package p2pshare

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// TestUploadBudget: a first seeder on a budget of one copy, much faster
// than the class it seeds (which would otherwise take most of the share
// from it), uploads about one copy and every member still gets the whole
// share, from the others.
func TestUploadBudget(t *testing.T) {
	const size, piece = budgetShare, 16 << 10 // 64 pieces
	boot, nodes, src, want := budgetClass(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
	fetchClass(t, ctx, nodes, ih, want, nil)
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
	boot, nodes, src, want := budgetClass(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ih, err := boot.Share(ctx, src, ShareOptions{UploadBudget: 1})
	if err != nil {
		t.Fatal(err)
	}
	fetchClass(t, ctx, nodes, ih, want, func(i int, nd *Swarm, d *Download) bool {
		if i != 0 {
			return false
		}
		// The leaver: gone once it holds a quarter of the share.
		for e := range d.Events() {
			if e.Kind == EventPiece && d.Progress().Pieces >= 16 {
				break
			}
		}
		nd.Close()
		return true
	})
}

// budgetShare is the size of the budget tests' share: 64 pieces of 16 KiB.
const budgetShare = 1 << 20

// budgetClass starts a bootstrap that uploads 1 MiB/s and members that
// upload 128 KiB/s, so that without a budget the class would take most of
// the share from the bootstrap, and writes the share to send them.
func budgetClass(t *testing.T, members int) (boot *Swarm, nodes []*Swarm, src string, want []byte) {
	boot = testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	nodes = make([]*Swarm, members)
	for i := range nodes {
		nodes[i] = testNode(t, boot, func(c *Config) { c.UploadLimit = 128 << 10 })
	}
	src, want = randomFile(t, t.TempDir(), budgetShare)
	return boot, nodes, src, want
}
