package discovery

import (
	"context"
	"fmt"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/p2pshare/p2pshare/internal/replication"
)

// StoreAt sends value, as given and unchecked, to be stored under key at p
// alone: the store a replicator makes, and the one a test of a hostile
// member sends. p's validators and quotas decide whether it is kept.
func (d *DHT) StoreAt(ctx context.Context, p peer.ID, key string, value []byte) error {
	pm, err := pb.NewProtocolMessenger(d.d.MessageSender())
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	return pm.PutValue(ctx, p, &recpb.Record{Key: []byte(key), Value: value})
}

// Stored returns the envelope this node holds under key, if it holds one.
func (d *DHT) Stored(ctx context.Context, key string) (replication.Envelope, bool) {
	b, err := d.store.Get(ctx, replication.DatastoreKey(key))
	if err != nil {
		return replication.Envelope{}, false
	}
	rec := new(recpb.Record)
	if proto.Unmarshal(b, rec) != nil || string(rec.GetKey()) != key {
		return replication.Envelope{}, false
	}
	e, err := replication.Open(rec.GetValue())
	return e, err == nil
}
