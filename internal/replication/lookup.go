package replication

import (
	"context"
	"errors"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	kb "github.com/libp2p/go-libp2p-kbucket"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

// LookupStats describes one iterative lookup.
type LookupStats struct {
	// Rounds is the number of sequential query round trips on the path to
	// the farthest of the returned peers: a peer taken from the routing
	// table is queried in round 1, a peer first learned from a round-r reply
	// in round r+1. Queries run asynchronously (alpha in flight), so this is
	// the depth of the query tree rather than a lock-step count.
	Rounds   int
	Queried  int // peers sent a query
	Failed   int // queries that failed (dead or unreachable peers)
	Duration time.Duration
}

// ErrNoPeers is returned by a lookup that had nobody to ask.
var ErrNoPeers = errors.New("replication: lookup: no peers to ask")

// Query asks peer p for the peers it knows closest to key and, for a value
// lookup, the value it holds under key (nil if none).
type Query func(ctx context.Context, p peer.ID, key string) (closer []peer.AddrInfo, value []byte, err error)

// lookupState is an iterative FIND_NODE's bookkeeping, free of I/O: which
// candidates are known, asked, answered or failed, and in which round each
// could first be asked.
type lookupState struct {
	target kb.ID
	self   peer.ID
	k      int
	round  map[peer.ID]int
	state  map[peer.ID]int // candidate, asked, answered, failed
	order  []peer.ID       // every candidate, closest first
	failed int
}

const (
	candidate = iota
	asked
	answered
	failed
)

func newLookupState(key string, self peer.ID, seeds []peer.ID, k int) *lookupState {
	s := &lookupState{target: kb.ConvertKey(key), self: self, k: k, round: map[peer.ID]int{}, state: map[peer.ID]int{}}
	s.learn(seeds, 1)
	return s
}

// learn adds peers first heard of in round r.
func (s *lookupState) learn(ps []peer.ID, r int) {
	added := false
	for _, p := range ps {
		if p == "" || p == s.self {
			continue
		}
		if _, ok := s.state[p]; ok {
			continue
		}
		s.state[p], s.round[p] = candidate, r
		s.order = append(s.order, p)
		added = true
	}
	if added {
		s.order = kb.SortClosestPeers(s.order, s.target)
	}
}

// next returns up to n candidates to ask now: those not yet asked among the
// k closest peers that have not failed. done is true when those k have all
// answered (or fewer exist and all of them answered) and nothing is in
// flight.
func (s *lookupState) next(n, inFlight int) (ask []peer.ID, done bool) {
	seen := 0
	pending := inFlight > 0
	for _, p := range s.order {
		if seen == s.k {
			break
		}
		switch s.state[p] {
		case failed:
			continue
		case candidate:
			pending = true
			if len(ask) < n {
				ask = append(ask, p)
			}
		case asked:
			pending = true
		}
		seen++
	}
	return ask, !pending
}

// result is the k closest peers that answered, closest first, and the
// lookup's depth.
func (s *lookupState) result() ([]peer.ID, int) {
	var out []peer.ID
	depth := 0
	for _, p := range s.order {
		if len(out) == s.k {
			break
		}
		if s.state[p] == answered {
			out = append(out, p)
			depth = max(depth, s.round[p])
		}
	}
	return out, depth
}

// Run performs an iterative lookup of key: starting from seeds, alpha
// queries in flight, every answer's peers becoming candidates one round
// deeper; it ends when the k closest peers not known to have failed have
// all answered. Peers that fail are never returned, and the lookup goes on
// past them to the next closest, so dead peers cost time, not accuracy.
// values holds what each returned peer answered with a value.
func Run(ctx context.Context, q Query, self peer.ID, seeds []peer.ID, key string, k, alpha int, now func() time.Time) (found []peer.ID, values map[peer.ID][]byte, _ LookupStats, _ error) {
	start := now()
	s := newLookupState(key, self, seeds, k)
	if len(s.order) == 0 {
		return nil, nil, LookupStats{}, ErrNoPeers
	}
	values = map[peer.ID][]byte{}
	type reply struct {
		p     peer.ID
		peers []peer.AddrInfo
		value []byte
		err   error
	}
	replies := make(chan reply, alpha)
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inFlight, queried := 0, 0
	for {
		ask, done := s.next(alpha-inFlight, inFlight)
		if done {
			break
		}
		for _, p := range ask {
			s.state[p] = asked
			inFlight++
			queried++
			go func() {
				ps, v, err := q(qctx, p, key)
				replies <- reply{p, ps, v, err}
			}()
		}
		var r reply
		select {
		case r = <-replies:
		case <-ctx.Done():
			cancel()
			for ; inFlight > 0; inFlight-- {
				<-replies
			}
			res, depth := s.result()
			return res, keep(values, res), LookupStats{Rounds: depth, Queried: queried, Failed: s.failed, Duration: now().Sub(start)}, ctx.Err()
		}
		inFlight--
		if r.err != nil {
			s.state[r.p] = failed
			s.failed++
			continue
		}
		s.state[r.p] = answered
		if r.value != nil {
			values[r.p] = r.value
		}
		ids := make([]peer.ID, 0, len(r.peers))
		for _, ai := range r.peers {
			ids = append(ids, ai.ID)
		}
		s.learn(ids, s.round[r.p]+1)
	}
	res, depth := s.result()
	return res, keep(values, res), LookupStats{Rounds: depth, Queried: queried, Failed: s.failed, Duration: now().Sub(start)}, nil
}

// keep drops from values the peers not in ps.
func keep(values map[peer.ID][]byte, ps []peer.ID) map[peer.ID][]byte {
	out := make(map[peer.ID][]byte, len(values))
	for _, p := range ps {
		if v, ok := values[p]; ok {
			out[p] = v
		}
	}
	return out
}

// Lookup runs Run on a kad-dht node with FIND_NODE queries: seeds from its
// routing table, the addresses learned kept in its peerstore for a while so
// the next hop can be dialled, and contacts that fail removed from the
// routing table.
func Lookup(ctx context.Context, d *dht.IpfsDHT, key string, k int, now func() time.Time) ([]peer.ID, LookupStats, error) {
	found, _, st, err := lookup(ctx, d, key, k, false, now)
	return found, st, err
}

// LookupValue is Lookup with GET_VALUE queries: it also returns the value
// each of the k closest holds, so a republish learns who lacks a key with
// no further round trip.
func LookupValue(ctx context.Context, d *dht.IpfsDHT, key string, k int, now func() time.Time) ([]peer.ID, map[peer.ID][]byte, LookupStats, error) {
	return lookup(ctx, d, key, k, true, now)
}

func lookup(ctx context.Context, d *dht.IpfsDHT, key string, k int, withValue bool, now func() time.Time) ([]peer.ID, map[peer.ID][]byte, LookupStats, error) {
	pm, err := pb.NewProtocolMessenger(d.MessageSender())
	if err != nil {
		return nil, nil, LookupStats{}, err
	}
	ps := d.Host().Peerstore()
	q := func(ctx context.Context, p peer.ID, key string) ([]peer.AddrInfo, []byte, error) {
		var closer []*peer.AddrInfo
		var value []byte
		var err error
		if withValue {
			var rec *recpb.Record
			rec, closer, err = pm.GetValue(ctx, p, key)
			if rec != nil {
				value = rec.GetValue()
			}
		} else {
			closer, err = pm.GetClosestPeers(ctx, p, peer.ID(key))
		}
		if err != nil {
			if ctx.Err() == nil {
				// A contact that does not answer leaves the routing table,
				// as Kademlia evicts stale contacts; it re-enters when it
				// connects again.
				d.RoutingTable().RemovePeer(p)
			}
			return nil, nil, err
		}
		out := make([]peer.AddrInfo, 0, len(closer))
		for _, ai := range closer {
			if ai == nil {
				continue
			}
			ps.AddAddrs(ai.ID, ai.Addrs, peerstore.TempAddrTTL)
			out = append(out, *ai)
		}
		return out, value, nil
	}
	seeds := d.RoutingTable().NearestPeers(kb.ConvertKey(key), k)
	return Run(ctx, q, d.PeerID(), seeds, key, k, alpha, now)
}

// alpha is the number of queries a lookup keeps in flight (Kademlia's α;
// kad-dht uses 10).
const alpha = 10
