package discovery

import (
	"context"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	record "github.com/libp2p/go-libp2p-record"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"google.golang.org/protobuf/proto"

	"github.com/p2pshare/p2pshare/internal/replication"
)

// TestStoreReloadRechecks: a node started on the store an earlier node
// left serves the records that are still valid, and deletes those that
// expired meanwhile, fail their validator, or do not decode, before it
// serves anything.
func TestStoreReloadRechecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := dssync.MutexWrap(ds.NewMapDatastore())
	validators := map[string]record.Validator{testNS: okValidator{}}
	first, err := New(newHost(t), Options{Store: store, Validators: validators})
	if err != nil {
		t.Fatal(err)
	}
	key := func(s string) string { return "/" + testNS + "/" + s }
	plant := func(k string, value []byte) {
		b, err := proto.Marshal(&recpb.Record{Key: []byte(k), Value: value})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, replication.DatastoreKey(k), b); err != nil {
			t.Fatal(err)
		}
	}
	// The first node takes a record as a holder does.
	if err := first.d.PutValue(ctx, key("kept"), okRecord("kept")); err != nil {
		t.Logf("storing with no peers: %v", err) // kept locally all the same
	}
	if !first.holds(key("kept")) {
		t.Fatal("the first node did not keep the record")
	}
	first.Close()
	plant(key("expired"), replication.Envelope{Version: 1, Expiry: time.Now().Add(-time.Second), Payload: []byte("ok old")}.Seal())
	plant(key("invalid"), replication.Envelope{Version: 1, Expiry: time.Now().Add(time.Hour), Payload: []byte("not ok")}.Seal())
	plant("/unknown-ns/x", okRecord("x"))
	if err := store.Put(ctx, replication.DatastoreKey(key("garbage")), []byte("garbage")); err != nil {
		t.Fatal(err)
	}

	again, err := New(newHost(t), Options{Store: store, Validators: validators})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if e, ok := again.Stored(ctx, key("kept")); !ok || string(e.Payload) != "ok kept" {
		t.Fatalf("the valid record after the restart: %+v, %v", e, ok)
	}
	for _, k := range []string{key("expired"), key("invalid"), "/unknown-ns/x", key("garbage")} {
		if ok, _ := store.Has(ctx, replication.DatastoreKey(k)); ok {
			t.Errorf("%s is still in the store after the restart", k)
		}
	}
	if u := again.Records(); u.Records != 1 {
		t.Fatalf("%d records counted, want 1", u.Records)
	}
}
