package p2pshare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/p2pshare/p2pshare/internal/storage"
)

// cut refuses every connection between the nodes of a and those of b, both
// ways, through each node's connection gater, and closes those there are;
// heal lets them connect again.
func cut(t *testing.T, a, b []*Swarm) {
	t.Helper()
	forever := time.Now().Add(24 * time.Hour)
	for _, x := range a {
		for _, y := range b {
			x.net.m.Block(y.h.ID(), forever)
			y.net.m.Block(x.h.ID(), forever)
		}
	}
	// A connection that was being set up as the gaters changed may still
	// come up: close those until none is left.
	waitUntil(t, 10*time.Second, "connections still cross the cut", func() bool {
		crossing := false
		for _, x := range a {
			for _, y := range b {
				if x.h.Network().Connectedness(y.h.ID()) == network.Connected {
					crossing = true
					_ = x.h.Network().ClosePeer(y.h.ID())
				}
			}
		}
		return !crossing
	})
}

func heal(a, b []*Swarm) {
	for _, x := range a {
		for _, y := range b {
			x.net.m.Unblock(y.h.ID())
			y.net.m.Unblock(x.h.ID())
		}
	}
}

// TestPartition cuts a class in two. Side A holds the seeder (the network's
// bootstrap too) and three members with nothing; side B four members, each
// holding a different eighth of the pieces from an earlier, interrupted
// fetch, and the share's manifest record, as the DHT replicates it. While
// cut, side A completes from its seeder and side B trades until each of its
// members holds everything side B holds, half the share, and no more. Once
// the cut heals, side B finds side A again and completes.
func TestPartition(t *testing.T) {
	const (
		size      = 4 << 20
		pieceSize = 64 << 10
		pieces    = size / pieceSize
		perSide   = 4
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 4 << 20 })
	src, want := randomFile(t, dir, size)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: pieceSize})
	if err != nil {
		t.Fatal(err)
	}
	se := seed.session(ih)
	m, enc := se.Manifest(), se.Encoded()
	nodes := startNodes(t, seed, 2*perSide-1, nil)
	sideA := append([]*Swarm{seed}, nodes[:perSide-1]...)
	sideB := nodes[perSide-1:]

	// Side B's earlier fetch: member k holds the pieces i with i%8 == k.
	outs := map[*Swarm]string{}
	for k, b := range sideB {
		out := filepath.Join(dir, "b", b.ID().String())
		outs[b] = out
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		st, err := storage.OpenFetch(m, out)
		if err != nil {
			t.Fatal(err)
		}
		for i := k; i < pieces; i += 8 {
			if err := st.WritePiece(i, want[i*pieceSize:(i+1)*pieceSize]); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		_ = b.dht.PutManifest(pctx, ih, enc) // kept locally whatever the others do
		pcancel()
	}
	const sideBHolds = pieces / 2

	cut(t, sideA, sideB)
	t.Logf("cut: %d nodes on side A (the seeder among them), %d on side B", len(sideA), len(sideB))
	var downA, downB []*Download
	for _, a := range sideA[1:] {
		d, err := a.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "a", a.ID().String())})
		if err != nil {
			t.Fatalf("side A: Fetch: %v", err)
		}
		downA = append(downA, d)
	}
	for _, b := range sideB {
		d, err := b.Fetch(ctx, ih, FetchOptions{Out: outs[b]})
		if err != nil {
			t.Fatalf("side B: Fetch during the cut: %v", err)
		}
		if got := d.Progress().Pieces; got != pieces/8 {
			t.Fatalf("side B member resumed with %d pieces, want %d", got, pieces/8)
		}
		downB = append(downB, d)
	}
	for i, d := range downA {
		if err := d.Wait(ctx); err != nil {
			t.Fatalf("side A member %d: %v", i, err)
		}
		if got, err := os.ReadFile(d.Path()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("side A member %d: content differs from the source (%v)", i, err)
		}
	}
	t.Log("side A completed during the cut")
	for i, d := range downB {
		waitUntil(t, time.Minute, "side B does not pool its pieces during the cut", func() bool {
			return d.Progress().Pieces >= sideBHolds
		})
		if got := d.Progress().Pieces; got != sideBHolds {
			t.Fatalf("side B member %d holds %d pieces during the cut, but side B holds only %d", i, got, sideBHolds)
		}
	}
	t.Logf("side B pooled its pieces during the cut: each member holds %d of %d", sideBHolds, pieces)

	heal(sideA, sideB)
	healed := time.Now()
	for i, d := range downB {
		if err := d.Wait(ctx); err != nil {
			t.Fatalf("side B member %d after the cut healed: %v", i, err)
		}
		if got, err := os.ReadFile(d.Path()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("side B member %d: content differs from the source (%v)", i, err)
		}
	}
	t.Logf("side B completed %v after the cut healed", time.Since(healed).Round(100*time.Millisecond))
}
