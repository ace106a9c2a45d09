package p2pshare

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSeedsDropTheirLinks has a small class fetch a share and checks that
// once all hold it, no link is left up (two seeds have nothing to trade)
// and no connection stays protected for one: a member that completes
// tells its peers the pieces it had not announced to them, so that each
// pair learns it is done.
func TestSeedsDropTheirLinks(t *testing.T) {
	const members, size = 6, 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, _ := randomFile(t, dir, size)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, boot, members, nil)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			d, err := n.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, fmt.Sprint("out", i))})
			if err != nil {
				t.Errorf("member %d: Fetch: %v", i, err)
				return
			}
			if err := d.Wait(ctx); err != nil {
				t.Errorf("member %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	all := append([]*Swarm{boot}, nodes...)
	links := func() []int {
		out := make([]int, len(all))
		for i, n := range all {
			p, _ := n.Progress(ih)
			out[i] = p.Peers
		}
		return out
	}
	waitUntil(t, 30*time.Second, "no links left between the seeds", func() bool { return slices.Max(links()) == 0 })
	tag := "p2pshare-link/" + ih.String()
	for i, n := range all {
		for _, p := range n.h.Network().Peers() {
			if n.h.ConnManager().IsProtected(p, tag) {
				t.Errorf("node %d still protects its connection to %s for a link", i, p.ShortString())
			}
		}
	}
}
