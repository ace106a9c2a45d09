package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

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
	close   func() error  // closes what the node opened; nil for a store of the caller's
	where   string        // names it in errors
	opened  chan struct{} // a lazyStore's: closed once its files are open; nil for any other
}

// openStore opens cfg.Datastore, or a pebble datastore in DataDir, or, for
// a node with no DataDir, one in memory. A DataDir with no datastore yet
// (a new member's first start) gets one made some seconds later, after
// the join (lazyStore): until then what the node holds is in memory only,
// and a second node started at once on the same new DataDir is not
// refused here but logs that it could not open the datastore.
func openStore(cfg *Config, log *slog.Logger) (*nodeStore, error) {
	s := &nodeStore{root: cfg.Datastore, where: "Config.Datastore"}
	path := filepath.Join(cfg.DataDir, datastoreDirName)
	_, statErr := os.Stat(path)
	switch {
	case s.root != nil:
	case cfg.DataDir == "":
		s.root, s.where = dssync.MutexWrap(ds.NewMapDatastore()), "the datastore in memory"
	case errors.Is(statErr, fs.ErrNotExist):
		l := newLazyStore(path, log, lazyOpenDelay-lazyOpenDelay/4+rand.N(lazyOpenDelay/2))
		s.root, s.close, s.where, s.opened = l, l.Close, path, l.done
	default:
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

// lazyStore is a new DataDir's datastore while pebble opens in the
// background: writes go to memory, and to pebble too once it is open
// (what came before is copied over first); reads are answered from
// memory, which holds everything written since the node started. If
// pebble cannot be opened, the node runs on in memory and says so in its
// log.
type lazyStore struct {
	ds.Batching // the memory
	log         *slog.Logger
	path        string
	done        chan struct{} // closed once the open ended
	wake        chan struct{} // closed by Close: open now
	wakeOnce    sync.Once

	mu     sync.Mutex
	disk   *pebbleds.Datastore // nil until open, or if the open failed
	closed bool
}

func newLazyStore(path string, log *slog.Logger, delay time.Duration) *lazyStore {
	l := &lazyStore{Batching: dssync.MutexWrap(ds.NewMapDatastore()), log: log, path: path, done: make(chan struct{}), wake: make(chan struct{})}
	go l.open(delay)
	return l
}

// lazyOpenDelay is how long after its start a new node opens its
// datastore, give or take a quarter (or at once if it closes sooner):
// after its join. Making the files costs a few fsyncs, tens of ms on a
// busy disk; a class joining at once on a shared disk (a lab's server, a
// test) paid them in the joins of all.
const lazyOpenDelay = 10 * time.Second

func (l *lazyStore) open(delay time.Duration) {
	defer close(l.done)
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-l.wake:
		t.Stop()
	}
	p, err := openPebble(l.path)
	if err != nil {
		l.log.Error("the datastore could not be opened: DHT records and parked messages are kept in memory only", "path", l.path, "err", err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := copyAll(l.Batching, p); err != nil {
		_ = p.Close()
		l.log.Error("the datastore could not be written: DHT records and parked messages are kept in memory only", "path", l.path, "err", err)
		return
	}
	l.disk = p
}

// copyAll writes every entry of from to to in one batch.
func copyAll(from ds.Datastore, to ds.Batching) error {
	ctx := context.Background()
	res, err := from.Query(ctx, dsq.Query{})
	if err != nil {
		return err
	}
	all, err := res.Rest()
	if err != nil || len(all) == 0 {
		return err
	}
	b, err := to.Batch(ctx)
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := b.Put(ctx, ds.RawKey(e.Key), e.Value); err != nil {
			return err
		}
	}
	return b.Commit(ctx)
}

// write applies f to memory and then, once it is open, to pebble.
func (l *lazyStore) write(f func(ds.Datastore) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errStoreClosed
	}
	if err := f(l.Batching); err != nil {
		return err
	}
	if l.disk != nil {
		return f(l.disk)
	}
	return nil
}

func (l *lazyStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	return l.write(func(d ds.Datastore) error { return d.Put(ctx, k, v) })
}

func (l *lazyStore) Delete(ctx context.Context, k ds.Key) error {
	return l.write(func(d ds.Datastore) error { return d.Delete(ctx, k) })
}

func (l *lazyStore) Batch(context.Context) (ds.Batch, error) { return ds.NewBasicBatch(l), nil }

func (l *lazyStore) Sync(ctx context.Context, k ds.Key) error {
	return l.write(func(d ds.Datastore) error { return d.Sync(ctx, k) })
}

// Close opens pebble now if it is not open yet, so that what was written
// is kept, and closes it.
func (l *lazyStore) Close() error {
	l.wakeOnce.Do(func() { close(l.wake) })
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.disk != nil {
		return l.disk.Close()
	}
	return nil
}
