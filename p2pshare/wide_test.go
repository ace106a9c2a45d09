package p2pshare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWideClassCompletes fetches a share of 16 pieces to 10 members at once:
// a class wider than the share, where the seeder super-seeds to the end,
// showing each member one piece at a time and learning where its pieces
// went from the members' Haves, while the members, holding the same pieces
// as one another, tell each other only of pieces the other lacks. Every
// member must end with the file, and the seeder, its upload a fraction of
// the class's, must not have sent it ten times over.
func TestWideClassCompletes(t *testing.T) {
	const members, size = 20, 512 << 10 // 32 pieces of 16 KiB
	boot := testNode(t, nil, func(c *Config) { c.UploadLimit = 512 << 10 })
	nodes := make([]*Swarm, members)
	for i := range nodes {
		nodes[i] = testNode(t, boot, func(c *Config) { c.UploadLimit = 256 << 10 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src, want := randomFile(t, t.TempDir(), size)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fetchClass(t, ctx, nodes, ih, want, nil)
	p, _ := boot.Progress(ih)
	t.Logf("seeder sent %.2f copies", float64(p.Uploaded)/size)
	if p.Uploaded > members/2*size {
		t.Errorf("the seeder sent %.1f copies of the share to a class of %d", float64(p.Uploaded)/size, members)
	}
}

// fetchClass has every node fetch ih at once, each into its own file, and
// checks that each ends with want. leaves, if set, is called with each
// member's download as it starts; a member for which it returns true has
// left the class (it closed its node, say) and is not checked.
func fetchClass(t *testing.T, ctx context.Context, nodes []*Swarm, ih Infohash, want []byte, leaves func(i int, nd *Swarm, d *Download) bool) {
	t.Helper()
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
			if leaves != nil && leaves(i, nd, d) {
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
