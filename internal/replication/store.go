package replication

import (
	"context"
	"fmt"
	"github.com/multiformats/go-base32"
	"strings"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"google.golang.org/protobuf/proto"
)

// dsKey is where kad-dht's value store files a record of namespace ns:
// /<ns>/<base32(full key)> (records/value_store.go, valueDsKey).
func dsKey(ns, key string) ds.Key {
	return ds.NewKey("/" + ns + "/" + base32.RawStdEncoding.EncodeToString([]byte(key)))
}

// DatastoreKey is where kad-dht's value store files the record of key, a
// full key /<namespace>/<rest>.
func DatastoreKey(key string) ds.Key {
	ns, _, _ := strings.Cut(strings.TrimPrefix(key, "/"), "/")
	return dsKey(ns, key)
}

// held lists the records of namespace ns in the DHT's datastore. Corrupt
// entries are skipped; kad-dht discards them on its next read.
func held(ctx context.Context, store ds.Datastore, ns string) ([]*recpb.Record, error) {
	res, err := store.Query(ctx, dsq.Query{Prefix: "/" + ns})
	if err != nil {
		return nil, fmt.Errorf("replication: listing namespace %q: %w", ns, err)
	}
	defer res.Close()
	var out []*recpb.Record
	for e := range res.Next() {
		if e.Error != nil {
			return out, fmt.Errorf("replication: listing namespace %q: %w", ns, e.Error)
		}
		rec := new(recpb.Record)
		if proto.Unmarshal(e.Value, rec) != nil || ds.NewKey(e.Key) != dsKey(ns, string(rec.GetKey())) {
			continue
		}
		out = append(out, rec)
	}
	return out, nil
}

// drop deletes key's record if it still holds value, so a newer version
// stored meanwhile survives (kad-dht serialises its own writes, not ours;
// the window between the check and the delete remains).
func drop(ctx context.Context, store ds.Datastore, ns, key string, value []byte) error {
	k := dsKey(ns, key)
	b, err := store.Get(ctx, k)
	if err == ds.ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	rec := new(recpb.Record)
	if proto.Unmarshal(b, rec) == nil && string(rec.GetValue()) != string(value) {
		return nil
	}
	return store.Delete(ctx, k)
}

// Holds reports whether store keeps a record of namespace ns under key.
func Holds(ctx context.Context, store ds.Datastore, ns, key string) bool {
	ok, err := store.Has(ctx, dsKey(ns, key))
	return err == nil && ok
}
