package replication

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
)

// table is an in-memory network for Run: each peer's contacts are the
// b closest of every bucket, as a Kademlia routing table keeps.
type table struct {
	ids      []peer.ID
	contacts map[peer.ID][]peer.ID
	dead     map[peer.ID]bool
}

func newTable(n, bucket int, rng *rand.Rand) *table {
	t := &table{dead: map[peer.ID]bool{}}
	for i := range n {
		t.ids = append(t.ids, peer.ID(fmt.Sprintf("peer-%d-%d", i, rng.Int63())))
	}
	t.fill(bucket, rng)
	return t
}

// fill gives every peer a routing table of live contacts: the state after
// dead contacts have been evicted and buckets refilled.
func (t *table) fill(bucket int, rng *rand.Rand) {
	t.contacts = map[peer.ID][]peer.ID{}
	for _, self := range t.ids {
		buckets := map[int][]peer.ID{}
		for _, p := range t.ids {
			if p != self && !t.dead[p] {
				b := BucketIndex(self, p)
				buckets[b] = append(buckets[b], p)
			}
		}
		for _, ps := range buckets {
			rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
			t.contacts[self] = append(t.contacts[self], ps[:min(bucket, len(ps))]...)
		}
	}
}

func (t *table) query(k int) Query {
	return func(_ context.Context, p peer.ID, key string) ([]peer.AddrInfo, []byte, error) {
		if t.dead[p] {
			return nil, nil, errors.New("dead")
		}
		var out []peer.AddrInfo
		for _, c := range Closest(key, t.contacts[p], k) {
			out = append(out, peer.AddrInfo{ID: c})
		}
		return out, []byte(p), nil
	}
}

func (t *table) live() []peer.ID {
	var out []peer.ID
	for _, p := range t.ids {
		if !t.dead[p] {
			out = append(out, p)
		}
	}
	return out
}

// TestRunFindsTheKClosestLive checks the iterative lookup against the
// oracle of full membership: it never returns a dead peer, and returns
// exactly the k closest live peers when routing tables hold live contacts
// (no one dead, or 30 % dead and evicted, as failed queries do in a real
// node), and nearly so while tables still list the dead.
func TestRunFindsTheKClosestLive(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const n, k, lookups = 300, 8, 200
	for _, tc := range []struct {
		name    string
		dead    float64
		evicted bool
		exact   int     // at least this many lookups exact
		overlap float64 // mean overlap with the oracle at least
	}{
		{"none dead", 0, false, lookups, k},
		{"30% dead, evicted", 0.3, true, lookups * 99 / 100, k - 0.1},
		{"30% dead, still listed", 0.3, false, 0, k - 1},
	} {
		tb := newTable(n, k, rng)
		for _, p := range tb.ids {
			tb.dead[p] = rng.Float64() < tc.dead
		}
		if tc.evicted {
			tb.fill(k, rng)
		}
		exact, overlap, depthSum := 0, 0, 0
		for i := range lookups {
			key := fmt.Sprintf("key-%d", i)
			live := tb.live()
			self := live[rng.Intn(len(live))]
			seeds := Closest(key, tb.contacts[self], k)
			found, values, st, err := Run(context.Background(), tb.query(k), self, seeds, key, k, 3, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range found {
				if tb.dead[p] {
					t.Fatalf("%s: lookup returned dead peer %s", tc.name, p)
				}
				if string(values[p]) != string(p) {
					t.Fatalf("%s: value of %s is %q", tc.name, p, values[p])
				}
			}
			others := slices.DeleteFunc(slices.Clone(live), func(p peer.ID) bool { return p == self })
			truth := Closest(key, others, k)
			if slices.Equal(found, truth) {
				exact++
			}
			for _, p := range found {
				if slices.Contains(truth, p) {
					overlap++
				}
			}
			depthSum += st.Rounds
		}
		mean := float64(overlap) / lookups
		t.Logf("%s: %d/%d lookups exact, mean overlap %.2f of %d, mean depth %.2f", tc.name, exact, lookups, mean, k, float64(depthSum)/lookups)
		if exact < tc.exact || mean < tc.overlap {
			t.Errorf("%s: %d exact (want >= %d), mean overlap %.2f (want >= %.2f)", tc.name, exact, tc.exact, mean, tc.overlap)
		}
	}
}

// TestRunStateRules pins the termination rule on a hand-made case: the
// lookup waits for every one of the k closest non-failed candidates, and a
// failed one lets the next closest in.
func TestRunStateRules(t *testing.T) {
	key := "k"
	ids := []peer.ID{"a", "b", "c", "d"}
	sorted := kb.SortClosestPeers(slices.Clone(ids), kb.ConvertKey(key))
	s := newLookupState(key, "self", ids, 2)
	ask, done := s.next(10, 0)
	if done || !slices.Equal(ask, sorted[:2]) {
		t.Fatalf("first asks %v done %v, want %v", ask, done, sorted[:2])
	}
	s.state[sorted[0]], s.state[sorted[1]] = answered, failed
	ask, done = s.next(10, 0)
	if done || !slices.Equal(ask, sorted[2:3]) {
		t.Fatalf("after a failure asks %v done %v, want %v", ask, done, sorted[2:3])
	}
	s.state[sorted[2]] = answered
	if _, done = s.next(10, 0); !done {
		t.Fatal("not done with the 2 closest non-failed answered")
	}
	if _, done = s.next(10, 1); done {
		t.Fatal("done with a query in flight")
	}
	res, depth := s.result()
	if !slices.Equal(res, []peer.ID{sorted[0], sorted[2]}) || depth != 1 {
		t.Fatalf("result %v depth %d", res, depth)
	}
}
