package replication

import (
	"context"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/replication/meshtest"
)

// TestRebaseForgetsThePeersMetJoining starts a Replicator before its node
// joins, as a p2pshare node does, and checks what its first newcomer poll
// hands off: with Rebase after the join, nothing (the peers it met were
// there first); without, the node's records to every peer among their k
// closest, as if the whole network had just joined.
func TestRebaseForgetsThePeersMetJoining(t *testing.T) {
	const k = 4
	c := newCluster(t, 8, k)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	handOffs := func(rebase bool) uint64 {
		nodes, err := c.Add(1)
		if err != nil {
			t.Fatal(err)
		}
		nd := nodes[0]
		r, err := New(nd.DHT, Config{Namespace: testNS, Store: nd.Store, K: k, Interval: time.Hour, PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := meshtest.Join(ctx, nd, c.Nodes[0]); err != nil {
			t.Fatal(err)
		}
		if rebase {
			r.Rebase()
		}
		v := Envelope{Version: 1, Expiry: time.Now().Add(time.Hour), Payload: []byte("x")}.Seal()
		if err := nd.DHT.PutValue(ctx, "/rt/"+nd.Host.ID().String(), v); err != nil {
			t.Fatal(err)
		}
		r.PollNewcomers(ctx)
		return r.Stats().HandOffs
	}
	if n := handOffs(true); n != 0 {
		t.Errorf("after Rebase, the first poll handed %d keys to peers met while joining, want 0", n)
	}
	if n := handOffs(false); n == 0 {
		t.Error("without Rebase, the first poll handed nothing off: the test shows nothing")
	}
}
