package replication

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrQuota refuses a store from a peer that holds its quota of records here.
var ErrQuota = errors.New("replication: peer's record quota is full")

// Quota limits the records each peer may have stored at this node: the
// distinct keys it stored that have not yet expired, and their bytes. A
// store of a key the peer stored before is charged again at its new size
// and expiry, not as another key. Charges run until the record's expiry,
// whether or not the store was kept, so a peer cannot free its quota by
// having its records refused or dropped. Quota does no I/O and is not safe
// for concurrent use; time is passed in.
type Quota struct {
	Keys  int   // live keys per peer; 0 means no limit
	Bytes int64 // live bytes per peer; 0 means no limit

	peers map[peer.ID]map[string]charge
	sweep time.Time // when every peer's charges were last pruned
}

type charge struct {
	size   int
	expiry time.Time
}

// Admit charges p for storing size bytes under key until expiry, or refuses
// with ErrQuota, naming the limit, if that would take p past Keys or Bytes.
func (q *Quota) Admit(now time.Time, p peer.ID, key string, size int, expiry time.Time) error {
	if q.peers == nil {
		q.peers = map[peer.ID]map[string]charge{}
	}
	if now.Sub(q.sweep) >= time.Minute {
		for id, cs := range q.peers {
			prune(now, cs)
			if len(cs) == 0 {
				delete(q.peers, id)
			}
		}
		q.sweep = now
	}
	cs := q.peers[p]
	if cs == nil {
		cs = map[string]charge{}
		q.peers[p] = cs
	}
	prune(now, cs)
	keys, bytes := len(cs), int64(size)
	for k, c := range cs {
		if k != key {
			bytes += int64(c.size)
		}
	}
	if _, ok := cs[key]; !ok {
		keys++
	}
	if q.Keys > 0 && keys > q.Keys {
		return fmt.Errorf("%w: %s holds %d keys here, limit %d; key %q refused", ErrQuota, p, len(cs), q.Keys, key)
	}
	if q.Bytes > 0 && bytes > q.Bytes {
		return fmt.Errorf("%w: %s would hold %d bytes here, limit %d; key %q (%d bytes) refused", ErrQuota, p, bytes, q.Bytes, key, size)
	}
	if Expired(now, expiry) {
		return nil // refused as expired by the validator; nothing to hold
	}
	cs[key] = charge{size: size, expiry: expiry}
	return nil
}

// Restore charges p for storing size bytes under key until expiry, as
// Admit did in an earlier run, without checking the limits again: the
// charges a node kept across its restart. An expired charge is not made.
func (q *Quota) Restore(now time.Time, p peer.ID, key string, size int, expiry time.Time) {
	if Expired(now, expiry) {
		return
	}
	if q.peers == nil {
		q.peers = map[peer.ID]map[string]charge{}
	}
	if q.peers[p] == nil {
		q.peers[p] = map[string]charge{}
	}
	q.peers[p][key] = charge{size: size, expiry: expiry}
}

// Held returns the live keys and bytes charged to p.
func (q *Quota) Held(now time.Time, p peer.ID) (keys int, bytes int64) {
	for _, c := range q.peers[p] {
		if !Expired(now, c.expiry) {
			keys++
			bytes += int64(c.size)
		}
	}
	return keys, bytes
}

func prune(now time.Time, cs map[string]charge) {
	for k, c := range cs {
		if Expired(now, c.expiry) {
			delete(cs, k)
		}
	}
}
