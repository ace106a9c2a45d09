// Package discovery is p2pshare's private Kademlia DHT: how members find a
// share's providers and its manifest with no tracker. It runs
// go-libp2p-kad-dht under p2pshare's own protocol prefix, always in server
// mode (loopback and campus LAN addresses never get the public-reachability
// verdict the automatic mode waits for), with providers re-announcing their
// own records on a short interval.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// ProtocolPrefix makes the DHT protocol /p2pshare/kad/1.0.0, apart from any
// public DHT.
const ProtocolPrefix = "/p2pshare"

// manifestNS is the DHT record namespace of manifests; a record's key is
// /p2pshare-manifest/<infohash bytes> and its value the manifest's bytes.
const manifestNS = "p2pshare-manifest"

// Options configure the DHT.
type Options struct {
	Bootstrap []peer.AddrInfo // empty: this is the first node of a network
	// ProvideInterval is how often a provider re-announces; 0 means 1 minute.
	ProvideInterval time.Duration
	// Filter, if set, admits a peer to the routing table (the membership seam).
	Filter func(peer.ID) bool
	// Validators adds record namespaces (name -> validator) beside the
	// manifests'.
	Validators map[string]record.Validator
	Log        *slog.Logger
}

// DHT is a node's view of the network's DHT.
type DHT struct {
	h    host.Host
	d    *dht.IpfsDHT
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	providing map[string]context.CancelFunc
}

// New starts the DHT on h. It does not contact anyone; Join does.
func New(h host.Host, opts Options) (*DHT, error) {
	if opts.ProvideInterval <= 0 {
		opts.ProvideInterval = time.Minute
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := []dht.Option{
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.Mode(dht.ModeServer),
		dht.NamespacedValidator(manifestNS, manifestValidator{}),
		dht.BootstrapPeers(opts.Bootstrap...),
	}
	for ns, v := range opts.Validators {
		o = append(o, dht.NamespacedValidator(ns, v))
	}
	if opts.Filter != nil {
		f := opts.Filter
		o = append(o, dht.RoutingTableFilter(func(_ interface{}, p peer.ID) bool { return f(p) }))
	}
	d, err := dht.New(h, o...)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return &DHT{h: h, d: d, opts: opts, log: log, providing: map[string]context.CancelFunc{}}, nil
}

// Close stops the DHT and every provide loop.
func (d *DHT) Close() error {
	d.mu.Lock()
	for _, c := range d.providing {
		c()
	}
	d.providing = map[string]context.CancelFunc{}
	d.mu.Unlock()
	return d.d.Close()
}

// Join connects to the bootstrap peers and fills the routing table. It fails
// if bootstrap peers were given and none could be reached, or none entered
// the routing table before ctx ended.
func (d *DHT) Join(ctx context.Context) error {
	if len(d.opts.Bootstrap) == 0 {
		return nil
	}
	var errs []error
	ok := 0
	for _, ai := range d.opts.Bootstrap {
		if err := d.h.Connect(ctx, ai); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ai.ID, err))
			continue
		}
		ok++
	}
	if ok == 0 {
		return fmt.Errorf("discovery: no bootstrap peer reachable: %w", errors.Join(errs...))
	}
	// Identify adds a peer to the routing table shortly after connecting.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for d.d.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("discovery: bootstrap peers reached but none speaks the p2pshare DHT: %w", ctx.Err())
		case <-t.C:
		}
	}
	// Look ourselves up to learn our neighbourhood, then refresh in the
	// background.
	lookup, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.d.GetClosestPeers(lookup, string(d.h.ID())); err != nil {
		d.log.Debug("self lookup", "err", err)
	}
	_ = d.d.Bootstrap(ctx)
	return nil
}

// TryAdd offers an admitted member to the routing table. Members checked
// after identify ran would otherwise stay out of some tables.
func (d *DHT) TryAdd(p peer.ID) {
	_, _ = d.d.RoutingTable().TryAddPeer(p, true, false)
}

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
			wait := d.opts.ProvideInterval
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

func manifestKey(c cid.Cid) string { return "/" + manifestNS + "/" + string(c.Bytes()) }

// PutManifest stores a manifest in the DHT under its infohash.
func (d *DHT) PutManifest(ctx context.Context, c cid.Cid, encoded []byte) error {
	return d.d.PutValue(ctx, manifestKey(c), encoded)
}

// PutValue stores a validated record under key.
func (d *DHT) PutValue(ctx context.Context, key string, value []byte) error {
	return d.d.PutValue(ctx, key, value)
}

// GetValue looks a record up; the validator of its namespace picks the best.
func (d *DHT) GetValue(ctx context.Context, key string) ([]byte, error) {
	return d.d.GetValue(ctx, key)
}

// GetManifest looks a manifest up in the DHT; the bytes are checked against c.
func (d *DHT) GetManifest(ctx context.Context, c cid.Cid) ([]byte, error) {
	// One valid copy is enough: the bytes are checked against the infohash,
	// so waiting for more (kad-dht's default quorum) only adds latency.
	b, err := d.d.GetValue(ctx, manifestKey(c), dht.Quorum(1))
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
