package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	record "github.com/libp2p/go-libp2p-record"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/network"
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

// ErrStoreRead is New's error when Options.Store cannot be read.
var ErrStoreRead = errors.New("discovery: reading the DHT records kept from the last run")

// reload counts the records store holds from an earlier run and deletes
// those that would not be stored now: undecodable, filed under another
// key, of no namespace this node knows, expired, or refused by their
// namespace's validator (a revoked member's directory entry, say).
func reload(store *replication.Bounded, validators map[string]record.Validator, opts Options) error {
	check := func(k ds.Key, b []byte) error {
		rec := new(recpb.Record)
		if err := proto.Unmarshal(b, rec); err != nil {
			return err
		}
		key := string(rec.GetKey())
		if replication.DatastoreKey(key) != k {
			return fmt.Errorf("discovery: record of key %q filed under %s", key, k)
		}
		ns, _, _ := strings.Cut(strings.TrimPrefix(key, "/"), "/")
		v, ok := validators[ns]
		if !ok {
			return fmt.Errorf("discovery: record of unknown namespace %q", ns)
		}
		return replication.Validator{Inner: v, Now: time.Now, MaxTTL: opts.RecordTTL}.Validate(key, rec.GetValue())
	}
	kept, dropped, err := store.Load(context.Background(), check)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStoreRead, err)
	}
	if kept+dropped > 0 {
		opts.Log.Debug("records kept from the last run", "kept", kept, "dropped", dropped)
	}
	return nil
}

// Limits bound the value records a node keeps for others. A member that
// stores more keys or bytes than PeerKeys or PeerBytes is refused until
// its records expire; once the store holds Store, every new record is
// refused, this node's own publishes too, with an error that says so.
// Honest traffic stays far below the defaults: a peer stores at a node
// about k keys of a class's directory (the bootstrap lists every member,
// each at its k closest), the revocation list and the manifests of its
// shares, each a few KiB to a few MiB.
type Limits struct {
	PeerKeys  int   // live keys per peer; 0 means 256
	PeerBytes int64 // live bytes per peer; 0 means 64 MiB
	// Store bounds the whole value store; zero fields mean 16,384
	// records and 512 MiB.
	Store replication.Bound
}

func (l *Limits) defaults() {
	if l.PeerKeys <= 0 {
		l.PeerKeys = 256
	}
	if l.PeerBytes <= 0 {
		l.PeerBytes = 64 << 20
	}
	if l.Store.Records <= 0 {
		l.Store.Records = 16384
	}
	if l.Store.Bytes <= 0 {
		l.Store.Bytes = 512 << 20
	}
}

// putQuota charges every PUT_VALUE to the peer that sent it.
type putQuota struct {
	ttl     time.Duration
	log     *slog.Logger
	charges ds.Datastore // keeps the charges across restarts (charges.go); nil: none
	mu      sync.Mutex
	q       replication.Quota
	refused atomic.Uint64
}

func newPutQuota(o Options) *putQuota {
	return &putQuota{ttl: o.RecordTTL, log: o.Log, charges: o.Charges, q: replication.Quota{Keys: o.Limits.PeerKeys, Bytes: o.Limits.PeerBytes}}
}

// screen is kad-dht's request hook: it charges a PUT_VALUE's record to the
// peer that sent it, until the record's expiry (at most the TTL), and
// refuses one past the peer's quota. kad-dht's handlers cannot be told the
// sender and the hook cannot answer, so it refuses by removing the record
// from the request: kad-dht's PUT_VALUE handler then fails it ("nil
// record") and resets the stream, which the sender sees as a failed store.
func (q *putQuota) screen(_ context.Context, s network.Stream, req *pb.Message) {
	rec := req.GetRecord()
	if req.GetType() != pb.Message_PUT_VALUE || rec == nil {
		return
	}
	now := time.Now()
	expiry := now.Add(q.ttl + replication.ExpirySkew)
	if e, err := replication.Open(rec.GetValue()); err == nil && e.Expiry.Before(expiry) {
		expiry = e.Expiry
	}
	p := s.Conn().RemotePeer()
	q.mu.Lock()
	err := q.q.Admit(now, p, string(rec.GetKey()), len(rec.GetValue()), expiry)
	q.mu.Unlock()
	if err != nil {
		q.refused.Add(1)
		q.log.Warn("refusing a DHT record", "peer", p, "err", err)
		req.Record = nil
		return
	}
	if !replication.Expired(now, expiry) {
		q.keep(p, string(rec.GetKey()), len(rec.GetValue()), expiry)
	}
}

// RecordUse is what a node's value store holds and what it refused.
type RecordUse struct {
	Records int
	Bytes   int64
	Refused uint64 // stores refused for their sender's quota
}

// Records returns what this node's value store holds.
func (d *DHT) Records() RecordUse {
	n, b := d.store.Held()
	return RecordUse{Records: n, Bytes: b, Refused: d.puts.refused.Load()}
}
