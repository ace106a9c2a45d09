// Package discovery is p2pshare's private Kademlia DHT: how members find a
// share's providers and its manifest with no tracker. It runs
// go-libp2p-kad-dht under p2pshare's own protocol prefix, always in server
// mode (loopback and campus LAN addresses never get the public-reachability
// verdict the automatic mode waits for), with providers re-announcing their
// own records on a short interval.
//
// Every value record (manifests, the revocation list, and any namespace a
// caller adds) is replicated as the Kademlia paper describes: kept on the k
// nodes closest to its key, handed to a newcomer that joins closer,
// re-checked and re-stored by its holders every republish interval, and
// dropped when its envelope's TTL passes without its publisher refreshing it
// (package replication).
package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/replication"
)

// ProtocolPrefix makes the DHT protocol /p2pshare/kad/1.0.0, apart from any
// public DHT.
const ProtocolPrefix = "/p2pshare"

// manifestNS is the DHT record namespace of manifests; a record's key is
// /p2pshare-manifest/<infohash bytes> and its value the manifest's bytes.
const manifestNS = "p2pshare-manifest"

// defaultProvideInterval is how often a provider re-announces unless told
// otherwise. Each announcement is a lookup and k stores, so a member that
// announces connects to about k others: at one minute, the median member
// of a class of 50 held 19-27 connections after a quiz, the announcements
// spread over the minute, against 10-11 at five. At five, a departed
// member's record lives 15 minutes (ProviderTTL) where it lived 3, and a
// fetch that finds it meanwhile spends a dial on it.
const defaultProvideInterval = 5 * time.Minute

// Options configure the DHT.
type Options struct {
	Bootstrap []peer.AddrInfo // empty: this is the first node of a network
	// ProvideInterval is how often a provider re-announces, give or take a
	// quarter; 0 means 5 minutes.
	ProvideInterval time.Duration
	// Filter, if set, admits a peer to the routing table (the membership seam).
	Filter func(peer.ID) bool
	// Validators adds record namespaces (name -> validator) beside the
	// manifests'.
	Validators map[string]record.Validator
	// Replicas is k, the number of nodes that hold each record (and the
	// routing table's bucket size); 0 means 20.
	Replicas int
	// Republish is how often each holder re-checks and re-stores its
	// records; 0 means 10 minutes.
	Republish time.Duration
	// RecordTTL is how long a record lives after its publisher last
	// refreshed it; publishers refresh at half of it. 0 means 24 hours.
	RecordTTL time.Duration
	// ProviderTTL is how long a provider record lives unless re-announced;
	// 0 means 3 × ProvideInterval, so a departed seeder is forgotten soon.
	ProviderTTL time.Duration
	// RefreshDelay is how long after Join the node waits before its self
	// lookup and first routing-table refresh, which connect it to many
	// members: a class that joins at once gets its first pieces flowing
	// before that. 0 means a random time between 5 and 15 s; negative,
	// none. The table is refreshed every RefreshInterval after that.
	RefreshDelay time.Duration
	// RefreshInterval is how often the routing table is refreshed, give or
	// take a quarter; 0 means 10 minutes.
	RefreshInterval time.Duration
	// Busy, if set, reports whether the node is fetching. The first self
	// lookup and refresh wait, after RefreshDelay, until it reports false
	// or for at most MaxBusyWait more: a lookup and a refresh of every
	// bucket reach most of a class, and in a class that fetches together
	// they would spend the CPU and connections the pieces need. The node
	// already has its routing table from the bootstrap's answer (Join).
	Busy func() bool
	// MaxBusyWait bounds that wait; 0 means 2 minutes.
	MaxBusyWait time.Duration
	// Limits bound the records this node keeps for others (records.go).
	Limits Limits
	// Store holds the value records; nil means memory. Records it holds
	// from an earlier run are checked again, as a new store would be
	// (expiry, then the namespace's validator), before New returns: those
	// that fail are deleted, the rest are served and count against
	// Limits.Store. Provider records, which live minutes, stay in memory.
	Store ds.Batching
	// Charges keeps what each peer's stores here are charged against
	// Limits.PeerKeys and PeerBytes, so a restart does not hand every
	// peer a fresh quota; nil means memory.
	Charges ds.Batching
	Log     *slog.Logger
}

func (o *Options) defaults() {
	if o.ProvideInterval <= 0 {
		o.ProvideInterval = defaultProvideInterval
	}
	if o.Replicas <= 0 {
		o.Replicas = 20
	}
	if o.Republish <= 0 {
		o.Republish = 10 * time.Minute
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = 24 * time.Hour
	}
	if o.ProviderTTL <= 0 {
		o.ProviderTTL = 3 * o.ProvideInterval
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 10 * time.Minute
	}
	if o.MaxBusyWait <= 0 {
		o.MaxBusyWait = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Limits.defaults()
}

// DHT is a node's view of the network's DHT.
type DHT struct {
	h     host.Host
	d     *dht.IpfsDHT
	opts  Options
	log   *slog.Logger
	store *replication.Bounded // the DHT's value records, which the replicators walk
	puts  *putQuota
	reps  []*replication.Replicator

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	loops  sync.WaitGroup // refreshLoop, which Close waits for

	refreshes atomic.Int64 // routing-table refreshes done

	mu         sync.Mutex
	providing  map[string]context.CancelFunc
	publishing map[string]context.CancelFunc
}

// New starts the DHT on h. It does not contact anyone; Join does.
func New(h host.Host, opts Options) (*DHT, error) {
	opts.defaults()
	inner := opts.Store
	if inner == nil {
		inner = dssync.MutexWrap(ds.NewMapDatastore())
	}
	store := replication.NewBounded(inner, opts.Limits.Store)
	puts := newPutQuota(opts)
	validators := map[string]record.Validator{manifestNS: manifestValidator{}}
	for ns, v := range opts.Validators {
		validators[ns] = v
	}
	if opts.Store != nil {
		if err := reload(store, validators, opts); err != nil {
			return nil, err
		}
	}
	if opts.Charges != nil {
		if err := puts.reloadCharges(time.Now()); err != nil {
			return nil, err
		}
	}
	o := []dht.Option{
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.Mode(dht.ModeServer),
		dht.BootstrapPeers(opts.Bootstrap...),
		dht.BucketSize(opts.Replicas),
		// The routing table is refreshed on p2pshare's schedule (Join), not
		// kad-dht's, which refreshes every bucket as soon as the table has
		// a peer: in a class that joins at once, a lookup per bucket per
		// student, all before anyone's first piece.
		dht.DisableAutoRefresh(),
		// Provider records apart; value records in the bounded store, each
		// PUT_VALUE charged to its sender's quota first.
		dht.Datastore(dssync.MutexWrap(ds.NewMapDatastore())),
		dht.ValueDatastore(store),
		dht.OnRequestHook(puts.screen),
		// Envelopes carry each record's expiry; kad-dht's own age limit
		// would drop records that holders keep but nobody re-sent.
		dht.MaxRecordAge(0),
		// One stream per request, each answer checked (sender.go).
		dht.WithCustomMessageSender(func(dh host.Host, _ []protocol.ID) pb.MessageSenderWithDisconnect { return newCheckedSender(dh) }),
		dht.ProviderManagerOpts(records.ProvideValidity(opts.ProviderTTL), records.CleanupInterval(opts.ProviderTTL)),
	}
	for ns, v := range validators {
		o = append(o, dht.NamespacedValidator(ns, replication.Validator{Inner: v, Now: time.Now, MaxTTL: opts.RecordTTL}))
	}
	if opts.Filter != nil {
		f := opts.Filter
		o = append(o, dht.RoutingTableFilter(func(_ interface{}, p peer.ID) bool { return f(p) }))
	}
	d, err := dht.New(rankOnly(h), o...)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	out := &DHT{h: h, d: d, opts: opts, log: opts.Log, store: store, puts: puts,
		providing: map[string]context.CancelFunc{}, publishing: map[string]context.CancelFunc{}}
	out.ctx, out.cancel = context.WithCancel(context.Background())
	for ns := range validators {
		r, err := replication.New(d, replication.Config{
			Namespace: ns, Store: store, K: opts.Replicas, Interval: opts.Republish,
			Log: opts.Log.With("namespace", ns), Spread: jitter,
		})
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("discovery: %w", err)
		}
		out.reps = append(out.reps, r)
		r.Start()
	}
	return out, nil
}

// Close stops the DHT and every provide loop.
func (d *DHT) Close() error {
	d.cancel()
	d.mu.Lock()
	for _, c := range d.providing {
		c()
	}
	d.providing = map[string]context.CancelFunc{}
	for _, c := range d.publishing {
		c()
	}
	d.publishing = map[string]context.CancelFunc{}
	d.mu.Unlock()
	for _, r := range d.reps {
		_ = r.Close()
	}
	// A refresh still asking kad-dht to refresh its table would race
	// with kad-dht closing.
	d.loops.Wait()
	return d.d.Close()
}

// Replicas is k, the number of nodes that hold each key.
func (d *DHT) Replicas() int { return d.opts.Replicas }

// Closest looks key up and returns the k nodes closest to it that answered,
// closest first (this node is never among them).
func (d *DHT) Closest(ctx context.Context, key string) ([]peer.ID, error) {
	found, _, err := replication.Lookup(ctx, d.d, key, d.opts.Replicas, time.Now)
	return found, err
}

// FindPeer looks up the addresses of p.
func (d *DHT) FindPeer(ctx context.Context, p peer.ID) (peer.AddrInfo, error) {
	return d.d.FindPeer(ctx, p)
}

// Stats sums the replication counters of every record namespace.
func (d *DHT) Stats() replication.Stats {
	var s replication.Stats
	for _, r := range d.reps {
		s.Add(r.Stats())
	}
	return s
}

// refreshLoop looks this node up after RefreshDelay, so its closest
// members learn of it (and hand it the records it is now among the k
// closest for), refreshes the routing table, and refreshes it again every
// RefreshInterval (give or take a quarter), until Close. Once the first
// refresh is done, the replicators count the peers it found as known, not
// as newcomers to hand keys to: they were there before this node.
func (d *DHT) refreshLoop() {
	delay := d.opts.RefreshDelay
	if delay == 0 {
		delay = 5*time.Second + rand.N(10*time.Second)
	}
	t := time.NewTimer(max(delay, 0))
	defer t.Stop()
	select {
	case <-d.ctx.Done():
		return
	case <-t.C:
	}
	if !d.waitIdle() {
		return
	}
	lookup, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	if _, err := d.d.GetClosestPeers(lookup, string(d.h.ID())); err != nil {
		d.log.Debug("self lookup", "err", err)
	}
	cancel()
	for first := true; ; first = false {
		select {
		case <-d.ctx.Done():
			return
		case <-d.d.RefreshRoutingTable():
		}
		if first {
			for _, r := range d.reps {
				r.Rebase()
			}
		}
		d.refreshes.Add(1)
		t.Reset(jitter(d.opts.RefreshInterval))
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// busyPoll is how often waitIdle asks Options.Busy.
const busyPoll = time.Second

// waitIdle returns once Options.Busy reports false, or MaxBusyWait has
// passed; false if the DHT closed meanwhile.
func (d *DHT) waitIdle() bool {
	if d.opts.Busy == nil {
		return true
	}
	tick := time.NewTicker(busyPoll)
	defer tick.Stop()
	deadline := time.Now().Add(d.opts.MaxBusyWait)
	for d.opts.Busy() && time.Now().Before(deadline) {
		select {
		case <-d.ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return d.ctx.Err() == nil
}

// TryAdd offers an admitted member to the routing table. Members checked
// after identify ran would otherwise stay out of some tables.
func (d *DHT) TryAdd(p peer.ID) {
	_, _ = d.d.RoutingTable().TryAddPeer(p, true, false)
}

// Refreshes is how many routing-table refreshes this node has done.
func (d *DHT) Refreshes() int64 { return d.refreshes.Load() }

// RoutingTableSize is the number of peers in the routing table.
func (d *DHT) RoutingTableSize() int { return d.d.RoutingTable().Size() }

// Provide announces this node as a provider of c now and every
// ProvideInterval until StopProviding or Close. A failed announcement is
// retried sooner.
func (d *DHT) Provide(c cid.Cid) {
	k := c.KeyString()
	d.mu.Lock()
	if _, ok := d.providing[k]; ok {
		d.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.providing[k] = cancel
	d.mu.Unlock()
	go func() {
		for {
			wait := jitter(d.opts.ProvideInterval)
			pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
			err := d.d.Provide(pctx, c, true)
			pcancel()
			if err != nil {
				d.log.Debug("provide", "cid", c, "err", err)
				wait = min(wait, 2*time.Second)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

// jitter returns d give or take a quarter, at random. A class starts
// together, and its members' periodic work would otherwise recur together:
// fifty members re-announcing in the same few seconds connected each of
// them to most of the class at once, every ProvideInterval, and their
// republish rounds and routing-table refreshes, each a few lookups, did
// the same every tenth minute.
func jitter(d time.Duration) time.Duration {
	return d - d/4 + rand.N(d/2+1)
}

// StopProviding ends the re-announcements of c.
func (d *DHT) StopProviding(c cid.Cid) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cancel, ok := d.providing[c.KeyString()]; ok {
		cancel()
		delete(d.providing, c.KeyString())
	}
}

// FindProviders streams the providers of c found until ctx ends or the
// lookup is exhausted; count 0 means no limit.
func (d *DHT) FindProviders(ctx context.Context, c cid.Cid, count int) <-chan peer.AddrInfo {
	return d.d.FindProvidersAsync(ctx, c, count)
}

// manifestVersion is every manifest record's version.
const manifestVersion = 1

func manifestKey(c cid.Cid) string { return "/" + manifestNS + "/" + string(c.Bytes()) }

// PutManifest publishes a manifest under its infohash until
// UnpublishManifest or Close.
func (d *DHT) PutManifest(ctx context.Context, c cid.Cid, encoded []byte) error {
	return d.Publish(ctx, manifestKey(c), encoded, manifestVersion)
}

// UnpublishManifest stops refreshing c's manifest; the network forgets it
// within RecordTTL unless another node publishes it.
func (d *DHT) UnpublishManifest(c cid.Cid) { d.Unpublish(manifestKey(c)) }

// Publish stores payload under key, sealed with version and an expiry of
// RecordTTL, and re-stores it every RecordTTL/2 (sooner after a failure)
// until Unpublish or Close, so it lives as long as its publisher does.
// Publishing a key again replaces the previous payload. It returns the
// first store's error; the refreshes go on regardless.
func (d *DHT) Publish(ctx context.Context, key string, payload []byte, version uint64) error {
	err := d.Put(ctx, key, payload, version)
	d.refresh(key, payload, version, err != nil, d.opts.RecordTTL/2)
	return err
}

// PublishLater is Publish without the first store: someone else stored the
// record just now (the bootstrap lists the members it meets), so this node
// only refreshes it, the first time after first.
func (d *DHT) PublishLater(key string, payload []byte, version uint64, first time.Duration) {
	d.refresh(key, payload, version, false, first)
}

// RecordTTL is how long a record lives after its publisher last stored it.
func (d *DHT) RecordTTL() time.Duration { return d.opts.RecordTTL }

// Put stores payload under key once, sealed with version and an expiry of
// RecordTTL, on the nodes closest to key.
func (d *DHT) Put(ctx context.Context, key string, payload []byte, version uint64) error {
	v := replication.Envelope{Version: version, Expiry: time.Now().Add(d.opts.RecordTTL), Payload: payload}.Seal()
	return d.d.PutValue(ctx, key, v)
}

// refresh re-stores key's record every RecordTTL/2, the first time after
// first (sooner if failed), until Unpublish or Close.
func (d *DHT) refresh(key string, payload []byte, version uint64, failed bool, first time.Duration) {
	pctx, cancel := context.WithCancel(d.ctx)
	d.mu.Lock()
	if old, ok := d.publishing[key]; ok {
		old()
	}
	d.publishing[key] = cancel
	d.mu.Unlock()
	go func() {
		wait := first
		for {
			if failed {
				wait = min(wait, 5*time.Second)
			}
			select {
			case <-pctx.Done():
				return
			case <-time.After(wait):
			}
			tctx, tcancel := context.WithTimeout(pctx, 30*time.Second)
			e := d.Put(tctx, key, payload, version)
			tcancel()
			failed = e != nil
			if failed {
				d.log.Debug("refreshing a record", "key", key, "err", e)
			}
			wait = d.opts.RecordTTL / 2
		}
	}()
}

// Unpublish stops refreshing key.
func (d *DHT) Unpublish(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cancel, ok := d.publishing[key]; ok {
		cancel()
		delete(d.publishing, key)
	}
}

// GetValue looks a record up and returns its payload; the validator of its
// namespace picks the best copy.
func (d *DHT) GetValue(ctx context.Context, key string) ([]byte, error) {
	return d.get(ctx, key)
}

func (d *DHT) get(ctx context.Context, key string, opts ...routing.Option) ([]byte, error) {
	b, err := d.d.GetValue(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	e, err := replication.Open(b)
	if err != nil {
		return nil, err
	}
	return e.Payload, nil
}

// GetManifest looks a manifest up in the DHT; the bytes are checked against c.
func (d *DHT) GetManifest(ctx context.Context, c cid.Cid) ([]byte, error) {
	// One valid copy is enough: the bytes are checked against the infohash,
	// so waiting for more (kad-dht's default quorum) only adds latency.
	b, err := d.get(ctx, manifestKey(c), dht.Quorum(1))
	if err != nil {
		return nil, err
	}
	if err := manifest.VerifyInfohash(c, b); err != nil {
		return nil, err
	}
	return b, nil
}

// manifestValidator accepts a manifest record only if its bytes hash to the
// infohash in its key, so nobody can store a wrong manifest under a share's
// name.
type manifestValidator struct{}

func (manifestValidator) Validate(key string, value []byte) error {
	rest, ok := strings.CutPrefix(key, "/"+manifestNS+"/")
	if !ok {
		return fmt.Errorf("discovery: key %q is not a manifest key", key)
	}
	c, err := cid.Cast([]byte(rest))
	if err != nil {
		return fmt.Errorf("discovery: manifest key: %w", err)
	}
	if len(value) > manifest.MaxEncodedSize {
		return fmt.Errorf("discovery: manifest record of %d bytes", len(value))
	}
	return manifest.VerifyInfohash(c, value)
}

func (manifestValidator) Select(string, [][]byte) (int, error) { return 0, nil }

// Version is 1 for every manifest (replication.Versioner): the bytes are
// fixed by the key, so no copy is newer than another.
func (manifestValidator) Version(string, []byte) (uint64, error) { return manifestVersion, nil }
