package replication

import (
	"bytes"
	"context"
	"errors"
	"sync"

	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Republish runs one round now: for every record held, expire it if past its
// envelope's expiry; otherwise look the key up, re-store it on those of the k
// closest that lack it (or hold a worse version), and, when this node is no
// longer among the k closest, hand it to them and drop it. It returns the
// first datastore error; network failures are counted, not returned.
func (r *Replicator) Republish(ctx context.Context) error {
	r.run.Lock()
	defer r.run.Unlock()
	defer r.endRound()
	recs, err := held(ctx, r.cfg.Store, r.cfg.Namespace)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, r.cfg.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := 0
	for _, rec := range recs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if r.republishOne(ctx, rec) {
				mu.Lock()
				kept++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.c.update(func(s *Stats) { s.Rounds++; s.KeysHeld = kept })
	return ctx.Err()
}

// republishOne handles one record and reports whether this node still holds it.
func (r *Replicator) republishOne(ctx context.Context, rec *recpb.Record) bool {
	key := string(rec.GetKey())
	e, err := Open(rec.GetValue())
	if err != nil || Expired(r.cfg.Now(), e.Expiry) {
		if drop(ctx, r.cfg.Store, r.cfg.Namespace, key, rec.GetValue()) == nil {
			r.c.update(func(s *Stats) { s.Expired++ })
		}
		return false
	}
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	found, values, ls, err := LookupValue(lctx, r.d, key, r.cfg.K, r.cfg.Now)
	cancel()
	r.c.lookup(ls)
	if err != nil || len(found) == 0 {
		// Without a lookup result nobody is known to be closer: keep it.
		r.c.update(func(s *Stats) { s.Failures++ })
		return true
	}
	has := map[peer.ID]bool{}
	for p, v := range values {
		has[p] = !r.worse(key, rec.GetValue(), v)
	}
	plan := Decide(key, r.self, found, r.cfg.K, func(p peer.ID) bool { return has[p] })
	stored := r.storeAll(ctx, plan.StoreTo, rec)
	if plan.Keep {
		r.c.update(func(s *Stats) { s.Republishes += uint64(stored) })
		return true
	}
	r.c.update(func(s *Stats) { s.HandOffs += uint64(stored) })
	if stored == 0 && len(plan.StoreTo) > 0 {
		return true // nobody took it: try again next round
	}
	if err := drop(ctx, r.cfg.Store, r.cfg.Namespace, key, rec.GetValue()); err != nil {
		r.cfg.Log.Debug("replication: drop", "key", key, "err", err)
		return true
	}
	if r.cfg.Trace != nil {
		r.cfg.Trace(Trace{Op: "drop", Key: key, From: r.self, Closer: Closest(key, found, r.cfg.K)})
	}
	r.c.update(func(s *Stats) { s.Drops++ })
	return false
}

// worse reports whether theirs is invalid or loses to ours under the DHT's
// validator.
func (r *Replicator) worse(key string, ours, theirs []byte) bool {
	if bytes.Equal(ours, theirs) {
		return false
	}
	if r.d.Validator.Validate(key, theirs) != nil {
		return true
	}
	i, err := r.d.Validator.Select(key, [][]byte{theirs, ours})
	return err != nil || i != 0
}

// storeAll sends rec to every peer of to and returns how many accepted it.
func (r *Replicator) storeAll(ctx context.Context, to []peer.ID, rec *recpb.Record) int {
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for _, p := range to {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
			err := r.pm.PutValue(sctx, p, &recpb.Record{Key: rec.GetKey(), Value: rec.GetValue()})
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				r.trace("store", string(rec.GetKey()), p)
				n++
				return
			}
			if !errors.Is(err, context.Canceled) {
				r.c.update(func(s *Stats) { s.Failures++ })
			}
		})
	}
	wg.Wait()
	return n
}

// PollNewcomers compares the routing table with the last poll and hands
// every held key to each newcomer that is now among its k closest of the
// peers this node knows.
func (r *Replicator) PollNewcomers(ctx context.Context) {
	r.run.Lock()
	defer r.run.Unlock()
	now := r.d.RoutingTable().ListPeers()
	fresh := NewPeers(r.known, now)
	var old []peer.ID
	for _, p := range now {
		if _, ok := r.known[p]; ok {
			old = append(old, p)
		}
	}
	r.known = set(now)
	if len(fresh) == 0 {
		return
	}
	recs, err := held(ctx, r.cfg.Store, r.cfg.Namespace)
	if err != nil {
		r.cfg.Log.Debug("replication: newcomer poll", "err", err)
		return
	}
	for _, n := range fresh {
		var wg sync.WaitGroup
		sem := make(chan struct{}, r.cfg.Parallel)
		for _, rec := range recs {
			if !HandOffOnJoin(string(rec.GetKey()), r.self, n, old, fresh, r.cfg.K) {
				continue
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				got := r.storeAll(ctx, []peer.ID{n}, rec)
				r.c.update(func(s *Stats) { s.HandOffs += uint64(got) })
			})
		}
		wg.Wait()
	}
}
