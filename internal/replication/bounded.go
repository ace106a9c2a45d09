package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
)

// ErrStoreFull refuses a record that would take the record store past its
// bound.
var ErrStoreFull = errors.New("replication: record store full")

// Bound is the most a record store holds; a zero field means no limit.
type Bound struct {
	Records int
	Bytes   int64
}

// Fits reports whether a store holding records entries of bytes in all can
// take a value of size under a key that now holds old bytes (0 and
// present false if it holds none), and if not, says which limit it passes.
func (b Bound) Fits(records int, bytes int64, old int, present bool, size int) error {
	if !present {
		records++
	}
	bytes += int64(size - old)
	if b.Records > 0 && records > b.Records {
		return fmt.Errorf("%w: %d records, limit %d", ErrStoreFull, records-1, b.Records)
	}
	if b.Bytes > 0 && bytes > b.Bytes {
		return fmt.Errorf("%w: %d bytes held, %d more would pass the limit of %d", ErrStoreFull, bytes-int64(size-old), size-old, b.Bytes)
	}
	return nil
}

// Bounded is a datastore that refuses a Put past its Bound, with an error
// wrapping ErrStoreFull that names the limit: the DHT's value store, so a
// node's memory holds no more records than it was told, whoever sends
// them. Give it to kad-dht with dht.ValueDatastore. Entries must be
// written and deleted through it to be counted.
type Bounded struct {
	ds.Batching
	bound Bound

	mu    sync.Mutex
	sizes map[ds.Key]int
	bytes int64
}

// NewBounded bounds inner. Entries inner holds already (a persistent
// store, from the node's last run) are not counted until Load.
func NewBounded(inner ds.Batching, b Bound) *Bounded {
	return &Bounded{Batching: inner, bound: b, sizes: map[ds.Key]int{}}
}

// Load counts the entries inner holds that keep accepts and deletes those
// it refuses (expired, no longer valid, undecodable), and reports how
// many of each. Entries past the bound are kept and counted: the store
// then refuses new ones until enough go. Call it before the store is in
// use.
func (b *Bounded) Load(ctx context.Context, keep func(key ds.Key, value []byte) error) (kept, dropped int, err error) {
	res, err := b.Batching.Query(ctx, dsq.Query{})
	if err != nil {
		return 0, 0, fmt.Errorf("replication: reading the record store: %w", err)
	}
	var gone []ds.Key
	b.mu.Lock()
	for e := range res.Next() {
		if e.Error != nil {
			b.mu.Unlock()
			res.Close()
			return kept, dropped, fmt.Errorf("replication: reading the record store: %w", e.Error)
		}
		k := ds.NewKey(e.Key)
		if keep(k, e.Value) != nil {
			gone = append(gone, k)
			continue
		}
		if _, ok := b.sizes[k]; !ok {
			kept++
		}
		b.bytes += int64(len(e.Value) - b.sizes[k])
		b.sizes[k] = len(e.Value)
	}
	b.mu.Unlock()
	res.Close()
	for _, k := range gone {
		if err := b.Delete(ctx, k); err != nil {
			return kept, dropped, fmt.Errorf("replication: dropping record %s: %w", k, err)
		}
		dropped++
	}
	return kept, dropped, nil
}

// Put stores value under key if the bound allows it.
func (b *Bounded) Put(ctx context.Context, key ds.Key, value []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	old, present := b.sizes[key]
	if err := b.bound.Fits(len(b.sizes), b.bytes, old, present, len(value)); err != nil {
		return err
	}
	if err := b.Batching.Put(ctx, key, value); err != nil {
		return err
	}
	b.sizes[key] = len(value)
	b.bytes += int64(len(value) - old)
	return nil
}

// Delete removes key.
func (b *Bounded) Delete(ctx context.Context, key ds.Key) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Batching.Delete(ctx, key); err != nil {
		return err
	}
	b.bytes -= int64(b.sizes[key])
	delete(b.sizes, key)
	return nil
}

// Batch returns a batch whose writes go through Put and Delete.
func (b *Bounded) Batch(context.Context) (ds.Batch, error) { return ds.NewBasicBatch(b), nil }

// Held returns the records and bytes the store holds.
func (b *Bounded) Held() (records int, bytes int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sizes), b.bytes
}
