package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Config configures a Replicator. Zero values mean the defaults given.
type Config struct {
	// Namespace is the record namespace to replicate, e.g. "p2pshare-manifest"
	// for keys /p2pshare-manifest/...; required. Its values must be
	// enveloped (Envelope) and validated by a Validator.
	Namespace string
	// Store is the datastore given to the DHT with dht.Datastore; required.
	Store ds.Datastore
	K     int // replicas per key; 0 means 20 (kad-dht's bucket size)
	// Interval is the republish period; 0 means 30 minutes.
	Interval time.Duration
	// PollInterval is how often the routing table is checked for newcomers;
	// 0 means Interval/10, at least 100 ms.
	PollInterval time.Duration
	Timeout      time.Duration    // per lookup, fetch or store; 0 means 10 s
	Parallel     int              // keys republished at once; 0 means 8
	Now          func() time.Time // nil means time.Now
	Log          *slog.Logger     // nil discards
	// Spread, if set, turns each interval into the wait before the next
	// round or poll: nodes that start together, as a class does, should
	// not run their rounds together for ever. Nil waits the interval.
	Spread func(time.Duration) time.Duration
	// Trace, if set, is called for every store this node makes and every
	// key it drops: what a test or an operator follows a key's moves with.
	Trace func(Trace)
}

// Trace is one move of a key made by a Replicator.
type Trace struct {
	Op   string  // "store", "handoff" (to a newcomer) or "drop"
	Key  string  // the record's key
	From peer.ID // the node making the move
	To   peer.ID // the peer stored to; empty for a drop
	// Closer, for a drop, are the peers the lookup found closer to the key.
	Closer []peer.ID
}

func (r *Replicator) trace(op, key string, to peer.ID) {
	if r.cfg.Trace != nil {
		r.cfg.Trace(Trace{Op: op, Key: key, From: r.self, To: to})
	}
}

// Validate checks c and names the field that is wrong.
func (c Config) Validate() error {
	switch {
	case c.Namespace == "":
		return errors.New("replication: Config.Namespace is empty")
	case c.Store == nil:
		return errors.New("replication: Config.Store is nil")
	case c.K < 0:
		return fmt.Errorf("replication: Config.K is %d", c.K)
	case c.Interval < 0 || c.PollInterval < 0 || c.Timeout < 0:
		return errors.New("replication: Config.Interval, PollInterval and Timeout must not be negative")
	case c.Parallel < 0:
		return fmt.Errorf("replication: Config.Parallel is %d", c.Parallel)
	}
	return nil
}

func (c *Config) defaults() {
	if c.K == 0 {
		c.K = 20
	}
	if c.Interval == 0 {
		c.Interval = 30 * time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = max(c.Interval/10, 100*time.Millisecond)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Parallel == 0 {
		c.Parallel = 8
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Replicator keeps one node's share of a namespace's records on the k
// closest nodes. Its methods are safe for concurrent use; rounds and polls
// run one at a time.
type Replicator struct {
	cfg  Config
	d    *dht.IpfsDHT
	self peer.ID
	pm   *pb.ProtocolMessenger
	c    counters

	run    sync.Mutex // one round or poll at a time
	known  map[peer.ID]struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	roundMu   sync.Mutex
	roundDone chan struct{} // closed and replaced after each round
}

// New returns a Replicator for d; Start runs it.
func New(d *dht.IpfsDHT, cfg Config) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	pm, err := pb.NewProtocolMessenger(d.MessageSender())
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	r := &Replicator{cfg: cfg, d: d, self: d.PeerID(), pm: pm, roundDone: make(chan struct{})}
	r.known = set(d.RoutingTable().ListPeers())
	return r, nil
}

// Start runs republish rounds every Interval and newcomer polls every
// PollInterval until Close.
func (r *Replicator) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.every(ctx, r.cfg.Interval, func() { _ = r.Republish(ctx) }) })
	r.wg.Go(func() { r.every(ctx, r.cfg.PollInterval, func() { r.PollNewcomers(ctx) }) })
}

// every runs f every d (Config.Spread of it) until ctx ends.
func (r *Replicator) every(ctx context.Context, d time.Duration, f func()) {
	wait := func() time.Duration {
		if r.cfg.Spread == nil {
			return d
		}
		return r.cfg.Spread(d)
	}
	t := time.NewTimer(wait())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
			t.Reset(wait())
		}
	}
}

// Rebase counts the peers now in the routing table as known, not as
// newcomers to hand keys to. A node calls it once it has joined and filled
// its routing table: the peers it met that way were in the network before
// it and hold their keys already; it is their newcomer, not they its.
// Without it, a node's first poll handed every key it held to nearly every
// peer it knew, and a class joining together became a full mesh a minute
// later.
func (r *Replicator) Rebase() {
	r.run.Lock()
	defer r.run.Unlock()
	r.known = set(r.d.RoutingTable().ListPeers())
}

// Close stops the loops and waits for them.
func (r *Replicator) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (r *Replicator) Stats() Stats { return r.c.snapshot() }

// RoundDone returns a channel closed when the next republish round ends, so
// a caller can wait for one without sleeping.
func (r *Replicator) RoundDone() <-chan struct{} {
	r.roundMu.Lock()
	defer r.roundMu.Unlock()
	return r.roundDone
}

func (r *Replicator) endRound() {
	r.roundMu.Lock()
	close(r.roundDone)
	r.roundDone = make(chan struct{})
	r.roundMu.Unlock()
}

func set(ps []peer.ID) map[peer.ID]struct{} {
	m := make(map[peer.ID]struct{}, len(ps))
	for _, p := range ps {
		m[p] = struct{}{}
	}
	return m
}
