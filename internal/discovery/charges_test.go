package discovery

import (
	"context"
	"fmt"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestQuotaSurvivesRestart: a member stores its quota of keys at a node;
// the node restarts on its datastores and goes on refusing that member's
// new keys, and taking its re-stores of keys it holds, until the charges
// expire.
func TestQuotaSurvivesRestart(t *testing.T) {
	const quota = 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, charges := dssync.MutexWrap(ds.NewMapDatastore()), dssync.MutexWrap(ds.NewMapDatastore())
	opts := Options{Replicas: 3, Limits: Limits{PeerKeys: quota}, Store: store, Charges: charges,
		Validators: map[string]record.Validator{testNS: okValidator{}}}
	start := func() *DHT {
		h := newHost(t)
		d, err := New(h, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	flooder := startNodes(t, 1, Options{Replicas: 3})[0]
	connect := func(d *DHT) {
		if err := flooder.h.Connect(ctx, addrInfo(d.h)); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) string { return fmt.Sprintf("/%s/flood-%d", testNS, i) }
	victim := start()
	connect(victim)
	for i := range quota {
		if err := flooder.StoreAt(ctx, victim.h.ID(), key(i), okRecord("flood")); err != nil {
			t.Fatalf("store %d, within the quota: %v", i, err)
		}
	}
	victim.Close()

	again := start()
	connect(again)
	if err := flooder.StoreAt(ctx, again.h.ID(), key(quota), okRecord("flood")); err == nil {
		t.Fatal("after the restart, a store past the quota was taken")
	}
	if err := flooder.StoreAt(ctx, again.h.ID(), key(0), okRecord("flood, again")); err != nil {
		t.Fatalf("after the restart, re-storing a key within the quota: %v", err)
	}
	if !again.holds(key(1)) || again.holds(key(quota)) {
		t.Fatal("the restarted node holds the wrong records")
	}
}

func FuzzDecodeCharge(f *testing.F) {
	p := peer.ID("\x00\x24\x08\x01\x12\x20" + string(make([]byte, 32)))
	f.Add(chargeKey(p, "/ns/k").String(), encodeCharge(10, time.Unix(99, 0)))
	f.Add("/x/y", []byte{})
	f.Fuzz(func(t *testing.T, k string, v []byte) {
		p, key, size, expiry, err := decodeCharge(k, v)
		if err != nil {
			return
		}
		if _, _, _, _, err := decodeCharge(chargeKey(p, key).String(), v); err != nil {
			t.Fatalf("%q decoded to %s, %q, whose key does not decode: %v", k, p, key, err)
		}
		if got := encodeCharge(size, expiry); string(got) != string(v) {
			t.Fatalf("charge %x decoded to %d, %v, which encodes to %x", v, size, expiry, got)
		}
	})
}
