package p2pshare_test

import (
	"context"
	"fmt"
	"log"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// A campus tool that keeps its state in a datastore of its own gives it to
// the node: the DHT records the node holds and the messages it keeps for
// offline members go there, under /p2pshare/, and outlive the node (which
// does not close it). A map stands in here for the tool's persistent
// store.
func ExampleConfig_datastore() {
	ctx := context.Background()
	store := dssync.MutexWrap(ds.NewMapDatastore())
	own := ds.NewKey("/vlab/settings") // the tool's own keys live beside the node's
	if err := store.Put(ctx, own, []byte("kept")); err != nil {
		log.Fatal(err)
	}
	node, err := p2pshare.New(ctx, p2pshare.Config{
		Datastore:   store,
		ListenAddrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")},
		NewNetwork:  true,
	})
	if err != nil {
		log.Fatal(err)
	}
	node.Close()
	// The store is still the tool's, and still open.
	v, err := store.Get(ctx, own)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v))
	// Output: kept
}
