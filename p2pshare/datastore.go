package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dsq "github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// datastoreDirName, in DataDir, is the default Config.Datastore.
const datastoreDirName = "datastore"

// Where the node's records go in its datastore.
var (
	dhtPrefix     = ds.NewKey("/p2pshare/dht")         // the DHT's value records
	chargesPrefix = ds.NewKey("/p2pshare/dht-charges") // what each peer's stores of them are charged
	mailboxPrefix = ds.NewKey("/p2pshare/mailbox")     // messages parked for offline members
)

// nodeStore is the node's datastore and the parts of it each user sees.
type nodeStore struct {
	root    ds.Batching
	dht     ds.Batching
	charges ds.Batching
	mailbox ds.Batching
	close   func() error // closes what the node opened; nil for a store of the caller's
	where   string       // names it in errors
}

// openStore opens cfg.Datastore, or a pebble datastore in DataDir, or, for
// a node with no DataDir, one in memory.
func openStore(cfg *Config) (*nodeStore, error) {
	s := &nodeStore{root: cfg.Datastore, where: "Config.Datastore"}
	switch {
	case s.root != nil:
	case cfg.DataDir == "":
		s.root, s.where = dssync.MutexWrap(ds.NewMapDatastore()), "the datastore in memory"
	default:
		path := filepath.Join(cfg.DataDir, datastoreDirName)
		p, err := openPebble(path)
		if err != nil {
			if strings.Contains(err.Error(), "lock held") || errors.Is(err, syscall.EAGAIN) {
				return nil, fmt.Errorf("p2pshare: the datastore %s is in use by another node on this DataDir: %w", path, err)
			}
			return nil, fmt.Errorf("p2pshare: opening the datastore %s (the node's DHT records and parked messages; if it is damaged, move it away and the node starts with an empty one): %w", path, err)
		}
		g := &closeGuard{Batching: p}
		s.root, s.close, s.where = g, g.Close, path
	}
	s.dht = namespace.Wrap(s.root, dhtPrefix)
	s.charges = namespace.Wrap(s.root, chargesPrefix)
	s.mailbox = namespace.Wrap(s.root, mailboxPrefix)
	return s, nil
}

// openPebble opens the pebble datastore at path, turning a panic of
// pebble's over damaged files into an error.
func openPebble(path string) (d *pebbleds.Datastore, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("damaged: %v", r)
		}
	}()
	return pebbleds.NewDatastore(path)
}

func (s *nodeStore) shut() error {
	if s == nil || s.close == nil {
		return nil
	}
	return s.close()
}

// errStoreClosed is what the node's own datastore answers once closed:
// pebble panics instead.
var errStoreClosed = errors.New("p2pshare: the datastore is closed")

// closeGuard makes calls on a closed datastore fail rather than panic: a
// replication round or an inbox request still running when the node
// closes may write to it.
type closeGuard struct {
	ds.Batching
	mu     sync.RWMutex
	closed bool
}

func (g *closeGuard) do(f func() error) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return errStoreClosed
	}
	return f()
}

func (g *closeGuard) Get(ctx context.Context, k ds.Key) (v []byte, err error) {
	err = g.do(func() error { v, err = g.Batching.Get(ctx, k); return err })
	return v, err
}

func (g *closeGuard) Has(ctx context.Context, k ds.Key) (ok bool, err error) {
	err = g.do(func() error { ok, err = g.Batching.Has(ctx, k); return err })
	return ok, err
}

func (g *closeGuard) GetSize(ctx context.Context, k ds.Key) (n int, err error) {
	n = -1
	err = g.do(func() error { n, err = g.Batching.GetSize(ctx, k); return err })
	return n, err
}

func (g *closeGuard) Query(ctx context.Context, q dsq.Query) (r dsq.Results, err error) {
	err = g.do(func() error { r, err = g.Batching.Query(ctx, q); return err })
	return r, err
}

func (g *closeGuard) Put(ctx context.Context, k ds.Key, v []byte) error {
	return g.do(func() error { return g.Batching.Put(ctx, k, v) })
}

func (g *closeGuard) Delete(ctx context.Context, k ds.Key) error {
	return g.do(func() error { return g.Batching.Delete(ctx, k) })
}

func (g *closeGuard) Sync(ctx context.Context, k ds.Key) error {
	return g.do(func() error { return g.Batching.Sync(ctx, k) })
}

// Batch returns a batch whose Commit fails once the store is closed.
func (g *closeGuard) Batch(ctx context.Context) (ds.Batch, error) {
	var b ds.Batch
	err := g.do(func() (err error) { b, err = g.Batching.Batch(ctx); return err })
	if err != nil {
		return nil, err
	}
	return guardedBatch{Batch: b, g: g}, nil
}

type guardedBatch struct {
	ds.Batch
	g *closeGuard
}

func (b guardedBatch) Commit(ctx context.Context) error {
	return b.g.do(func() error { return b.Batch.Commit(ctx) })
}

// Close closes the datastore once no call is running.
func (g *closeGuard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return g.Batching.Close()
}
