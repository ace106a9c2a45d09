package p2pshare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// connCounts returns how many connections each node holds now.
func connCounts(nodes []*Swarm) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = len(n.h.Network().Conns())
	}
	return out
}

// TestClassKeepsFewConnections has a class of 24 fetch a share, which
// connects each member to most of the class (joining, lookups and
// announcements do), and checks that each member then falls back to fewer
// connections than its connection manager's high mark, well under the
// class, while the bootstrap keeps the whole class; and that the trimmed
// class still finds and fetches a share a member adds afterwards.
func TestClassKeepsFewConnections(t *testing.T) {
	const members, size = 24, 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// The default announcement interval, not the tests' 2 s: announcing
	// is a lookup and k stores, and at 2 s it keeps a class connected.
	boot := testNode(t, nil, func(c *Config) { c.ProvideInterval = 0 })
	src, _ := randomFile(t, dir, size)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, boot, members, func(c *Config) { c.ProvideInterval = 0 })
	fetchAll(t, ctx, nodes, ih, dir)
	var up int64
	for _, n := range nodes {
		p, _ := n.Progress(ih)
		up += p.Uploaded
	}
	if up == 0 {
		t.Fatal("no member uploaded a piece: the class did not trade")
	}
	peak := connCounts(nodes)
	t.Logf("connections per member when the last finished: %v", peak)

	// A member trims once it holds 2·memberKeep connections, down to
	// memberKeep beside its bootstrap contact and the connections younger
	// than the trim grace; below the mark it keeps what it has.
	high := 2 * memberKeep
	waitUntil(t, 3*ihost.TrimGrace+time.Minute, fmt.Sprintf("every member holds fewer than %d connections", high), func() bool {
		return slices.Max(connCounts(nodes)) < high
	})
	t.Logf("connections per member after the trim: %v", connCounts(nodes))
	for i, n := range nodes {
		if !slices.Contains(boot.h.Network().Peers(), n.h.ID()) {
			t.Errorf("member %d lost its connection to the bootstrap", i)
		}
	}

	// The DHT still works: a share one member adds is found and fetched
	// by another, through lookups that dial anew.
	src2, want := randomFile(t, t.TempDir(), 256<<10)
	ih2, err := nodes[0].Share(ctx, src2, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "second")
	d, err := nodes[members-1].Fetch(ctx, ih2, FetchOptions{Out: out, LookupTimeout: time.Minute})
	if err != nil {
		t.Fatalf("fetching a member's share after the trim: %v", err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("fetching a member's share after the trim: %v", err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the share fetched after the trim differs from its source (read error %v)", err)
	}
}

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
	fetchAll(t, ctx, nodes, ih, dir)
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

// fetchAll has every node fetch ih into dir at once and waits for all of
// them; the test ends if any fails.
func fetchAll(t *testing.T, ctx context.Context, nodes []*Swarm, ih Infohash, dir string) {
	t.Helper()
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
}
