package replication

import (
	"context"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// LookupStats describes one iterative lookup.
type LookupStats struct {
	// Rounds is the number of sequential query round trips on the path to
	// the farthest of the returned peers: a peer taken from the routing
	// table is queried in round 1, a peer first learned from a round-r reply
	// in round r+1. kad-dht queries asynchronously (α in flight), so this is
	// the depth of its query tree rather than a lock-step count.
	Rounds   int
	Queried  int // peers sent a query
	Failed   int // queries that failed (dead or unreachable peers)
	Duration time.Duration
}

// HopTracker reconstructs lookup rounds from kad-dht's query events. It is
// not safe for concurrent use.
type HopTracker struct {
	learned   map[peer.ID]int // round in which a peer could first be queried
	queried   map[peer.ID]int
	responded map[peer.ID]bool
	failed    int
}

// NewHopTracker returns an empty tracker.
func NewHopTracker() *HopTracker {
	return &HopTracker{learned: map[peer.ID]int{}, queried: map[peer.ID]int{}, responded: map[peer.ID]bool{}}
}

// Observe records one query event.
func (t *HopTracker) Observe(ev *routing.QueryEvent) {
	switch ev.Type {
	case routing.SendingQuery:
		if _, ok := t.queried[ev.ID]; ok {
			return
		}
		r, ok := t.learned[ev.ID]
		if !ok {
			r = 1 // from our own routing table
		}
		t.queried[ev.ID] = r
	case routing.PeerResponse:
		t.responded[ev.ID] = true
		next := t.queried[ev.ID] + 1
		for _, ai := range ev.Responses {
			if ai == nil {
				continue
			}
			if _, ok := t.learned[ai.ID]; !ok {
				t.learned[ai.ID] = next
			}
		}
	case routing.QueryError:
		t.failed++
	}
}

// Live returns the peers of result that answered a query. kad-dht's
// follow-up queries the k closest it has only heard of but keeps them in its
// result even when they fail, so a dead peer could otherwise look responsible.
func (t *HopTracker) Live(result []peer.ID) []peer.ID {
	var out []peer.ID
	for _, p := range result {
		if t.responded[p] {
			out = append(out, p)
		}
	}
	return out
}

// Stats returns the lookup's figures given the peers it returned.
func (t *HopTracker) Stats(result []peer.ID) LookupStats {
	s := LookupStats{Queried: len(t.queried), Failed: t.failed}
	for _, p := range result {
		r, ok := t.queried[p]
		if !ok {
			r = t.learned[p]
		}
		s.Rounds = max(s.Rounds, r)
	}
	return s
}

// Lookup runs kad-dht's iterative FIND_NODE for key on d and measures it. It
// returns only the peers that answered.
// now is the clock durations are read from.
func Lookup(ctx context.Context, d *dht.IpfsDHT, key string, now func() time.Time) ([]peer.ID, LookupStats, error) {
	start := now()
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qctx, events := routing.RegisterForQueryEvents(qctx)
	tr := NewHopTracker()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			tr.Observe(ev)
		}
	}()
	peers, err := d.GetClosestPeers(qctx, key)
	cancel()
	<-done
	peers = tr.Live(peers)
	s := tr.Stats(peers)
	s.Duration = now().Sub(start)
	return peers, s, err
}
