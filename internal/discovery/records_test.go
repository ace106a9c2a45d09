package discovery

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/replication"
)

func okRecord(s string) []byte {
	return replication.Envelope{Version: 1, Expiry: time.Now().Add(time.Hour), Payload: []byte("ok " + s)}.Seal()
}

// TestRecordQuota: a member floods another with stores of many keys; past
// its quota they are refused, while a store from another member and the
// flooder's re-store of a key it holds there are still taken.
func TestRecordQuota(t *testing.T) {
	const quota = 4
	nodes := startNodes(t, 3, Options{Replicas: 3, Limits: Limits{PeerKeys: quota}})
	victim, flooder, honest := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := func(i int) string { return fmt.Sprintf("/%s/flood-%d", testNS, i) }
	for i := range 3 * quota {
		err := flooder.StoreAt(ctx, victim.h.ID(), key(i), okRecord("flood"))
		if i < quota && err != nil {
			t.Fatalf("store %d, within the quota: %v", i, err)
		}
		if i >= quota && err == nil {
			t.Errorf("store %d, past the quota of %d: accepted", i, quota)
		}
	}
	if err := flooder.StoreAt(ctx, victim.h.ID(), key(0), okRecord("flood, again")); err != nil {
		t.Errorf("re-storing a key within the quota: %v", err)
	}
	hk := "/" + testNS + "/honest"
	if err := honest.StoreAt(ctx, victim.h.ID(), hk, okRecord("honest")); err != nil {
		t.Fatalf("another member's store during the flood: %v", err)
	}
	for i := range 3 * quota {
		if got, want := victim.holds(key(i)), i < quota; got != want {
			t.Errorf("victim holds %s: %v, want %v", key(i), got, want)
		}
	}
	if !victim.holds(hk) {
		t.Error("victim does not hold the honest member's record")
	}
	// The sender retries a store whose stream was reset: at least one
	// refusal per store past the quota.
	if got := victim.Records().Refused; got < 2*quota {
		t.Errorf("refused %d stores, want at least %d", got, 2*quota)
	}
}

// TestRecordStoreBound: two members together store more records than a
// node's store holds; it takes them up to its bound and refuses the rest,
// its own publishes too, saying the store is full.
func TestRecordStoreBound(t *testing.T) {
	const bound = 6
	nodes := startNodes(t, 3, Options{Replicas: 3, Limits: Limits{PeerKeys: 100, Store: replication.Bound{Records: bound}}})
	victim := nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	taken := 0
	for i := range bound {
		for j, from := range nodes[1:] {
			if from.StoreAt(ctx, victim.h.ID(), fmt.Sprintf("/%s/fill-%d-%d", testNS, j, i), okRecord("fill")) == nil {
				taken++
			}
			if n := victim.Records().Records; n > bound {
				t.Fatalf("the store holds %d records, bound %d", n, bound)
			}
		}
	}
	if taken != bound {
		t.Errorf("took %d stores, want %d", taken, bound)
	}
	err := victim.Publish(ctx, "/"+testNS+"/own", []byte("ok own"), 1)
	victim.Unpublish("/" + testNS + "/own")
	if !errors.Is(err, replication.ErrStoreFull) {
		t.Fatalf("publishing into a full store: %v, want %v", err, replication.ErrStoreFull)
	}
}
