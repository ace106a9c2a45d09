package replication

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"math/rand"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// naiveClosest is the oracle: sort every member by the XOR of SHA-256
// digests as big integers, the obvious way.
func naiveClosest(key string, members []peer.ID, k int) []peer.ID {
	kd := sha256.Sum256([]byte(key))
	dist := func(p peer.ID) *big.Int {
		pd := sha256.Sum256([]byte(p))
		x := make([]byte, len(pd))
		for i := range pd {
			x[i] = pd[i] ^ kd[i]
		}
		return new(big.Int).SetBytes(x)
	}
	s := slices.Clone(members)
	slices.SortFunc(s, func(a, b peer.ID) int { return dist(a).Cmp(dist(b)) })
	return s[:min(k, len(s))]
}

func randIDs(rng *rand.Rand, n int) []peer.ID {
	out := make([]peer.ID, n)
	for i := range out {
		b := make([]byte, 34)
		rng.Read(b)
		out[i] = peer.ID(b)
	}
	return out
}

func TestDecideTable(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	ids := randIDs(rng, 8)
	key := "/ns/key"
	order := naiveClosest(key, ids, len(ids)) // closest first
	self := order[2]
	cases := []struct {
		name      string
		found     []peer.ID
		k         int
		has       map[peer.ID]bool
		keep      bool
		storeTo   []peer.ID
		responsib bool
	}{
		{"self in top 3, nobody has it", order, 3, nil, true, []peer.ID{order[0], order[1]}, true},
		{"self in top 3, one has it", order, 3, map[peer.ID]bool{order[0]: true}, true, []peer.ID{order[1]}, true},
		{"self outside top 2 hands off", order, 2, nil, false, []peer.ID{order[0], order[1]}, false},
		{"self outside top 2, all have it", order, 2, map[peer.ID]bool{order[0]: true, order[1]: true}, false, nil, false},
		{"empty lookup keeps", nil, 2, nil, true, nil, true},
		{"duplicates ignored", []peer.ID{order[0], order[0], order[1]}, 3, nil, true, []peer.ID{order[0], order[1]}, true},
		{"farther peers only", order[3:], 2, nil, true, []peer.ID{order[3]}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Decide(key, self, c.found, c.k, func(q peer.ID) bool { return c.has[q] })
			if p.Keep != c.keep || p.Drop == c.keep || !slices.Equal(p.StoreTo, c.storeTo) {
				t.Fatalf("Decide = %+v, want keep %v storeTo %v", p, c.keep, c.storeTo)
			}
			if got := Responsible(key, self, c.found, c.k); got != c.responsib {
				t.Fatalf("Responsible = %v, want %v", got, c.responsib)
			}
		})
	}
}

// TestDecideAgainstOracle checks the decisions on random memberships against
// a naive computation over full membership, as if every lookup were exact.
func TestDecideAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	for trial := range 300 {
		n := 1 + rng.Intn(80)
		k := 1 + rng.Intn(25)
		members := randIDs(rng, n)
		self := members[rng.Intn(n)]
		key := fmt.Sprintf("/ns/%d", rng.Int63())
		truth := naiveClosest(key, members, k)
		has := map[peer.ID]bool{}
		for _, p := range members {
			has[p] = rng.Intn(2) == 0
		}
		var others []peer.ID
		for _, p := range members {
			if p != self {
				others = append(others, p)
			}
		}
		found := naiveClosest(key, others, k) // an exact lookup
		plan := Decide(key, self, found, k, func(p peer.ID) bool { return has[p] })
		wantKeep := slices.Contains(truth, self)
		var wantStore []peer.ID
		for _, p := range truth {
			if p != self && !has[p] {
				wantStore = append(wantStore, p)
			}
		}
		if plan.Keep != wantKeep || plan.Drop == wantKeep || !slices.Equal(plan.StoreTo, wantStore) {
			t.Fatalf("trial %d (n=%d k=%d): plan %+v, oracle keep %v store %v", trial, n, k, plan, wantKeep, wantStore)
		}
		if !slices.Equal(Closest(key, members, k), truth) {
			t.Fatalf("trial %d: Closest differs from oracle", trial)
		}

		// Hand-off on join: self sends the newcomer the key iff the
		// newcomer is among the k closest of what self knows plus itself,
		// and self is the closest to the key of what it knew before.
		newcomer := randIDs(rng, 1)[0]
		known := others[:rng.Intn(len(others)+1)]
		view := append([]peer.ID{self, newcomer}, known...)
		want := slices.Contains(naiveClosest(key, view, k), newcomer) &&
			naiveClosest(key, append([]peer.ID{self}, known...), 1)[0] == self
		if got := HandOffOnJoin(key, self, newcomer, known, nil, k); got != want {
			t.Fatalf("trial %d: HandOffOnJoin = %v, oracle %v", trial, got, want)
		}
		// With full membership, exactly one member hands the key to a
		// newcomer that becomes responsible for it, and none otherwise.
		grown := append(slices.Clone(members), newcomer)
		senders := 0
		for _, m := range members {
			rest := slices.DeleteFunc(slices.Clone(members), func(p peer.ID) bool { return p == m })
			if HandOffOnJoin(key, m, newcomer, rest, []peer.ID{newcomer}, k) {
				senders++
			}
		}
		wantSenders := 0
		if slices.Contains(naiveClosest(key, grown, k), newcomer) {
			wantSenders = 1
		}
		if senders != wantSenders {
			t.Fatalf("trial %d: %d members hand off, want %d", trial, senders, wantSenders)
		}
	}
}

func TestNewPeersAndBuckets(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	ids := randIDs(rng, 5)
	got := NewPeers(map[peer.ID]struct{}{ids[0]: {}, ids[2]: {}}, ids)
	if !slices.Equal(got, []peer.ID{ids[1], ids[3], ids[4]}) {
		t.Fatalf("NewPeers = %v", got)
	}
	if BucketIndex(ids[0], ids[0]) != 256 {
		t.Fatalf("BucketIndex(self, self) = %d, want 256", BucketIndex(ids[0], ids[0]))
	}
}
