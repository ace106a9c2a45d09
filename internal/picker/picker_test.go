package picker

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func holds(n int, set ...int) []bool {
	b := make([]bool, n)
	for _, i := range set {
		b[i] = true
	}
	return b
}

func all(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func TestRarestFirst(t *testing.T) {
	p := New(4, nil, rand.New(rand.NewPCG(1, 2)))
	p.AddPeer("a", all(4))
	p.AddPeer("b", holds(4, 0, 1, 2))
	p.AddPeer("c", holds(4, 0, 1))
	// Piece 3 is held by one peer, 2 by two, 0 and 1 by three.
	if got := p.Next("a", 2); !slices.Equal(got, []int{3, 2}) {
		t.Fatalf("Next = %v, want [3 2]", got)
	}
}

func TestDepthBoundsOutstanding(t *testing.T) {
	p := New(10, nil, rand.New(rand.NewPCG(1, 2)))
	p.AddPeer("a", all(10))
	if got := len(p.Next("a", 3)); got != 3 {
		t.Fatalf("first Next gave %d, want 3", got)
	}
	if got := p.Next("a", 3); len(got) != 0 {
		t.Fatalf("Next at full depth gave %v, want none", got)
	}
	if p.Outstanding("a") != 3 {
		t.Fatalf("Outstanding = %d, want 3", p.Outstanding("a"))
	}
}

func TestNoDuplicateBeforeEndgame(t *testing.T) {
	p := New(6, nil, rand.New(rand.NewPCG(3, 4)))
	p.AddPeer("a", all(6))
	p.AddPeer("b", all(6))
	ga := p.Next("a", 3)
	gb := p.Next("b", 3)
	for _, i := range gb {
		if slices.Contains(ga, i) {
			t.Fatalf("piece %d asked of a and b before endgame: %v %v", i, ga, gb)
		}
	}
}

func TestEndgameAsksSecondPeerAndCancels(t *testing.T) {
	p := New(2, holds(2, 0), rand.New(rand.NewPCG(5, 6)))
	p.AddPeer("slow", all(2))
	p.AddPeer("fast", all(2))
	if got := p.Next("slow", 4); !slices.Equal(got, []int{1}) {
		t.Fatalf("slow: %v, want [1]", got)
	}
	if got := p.Next("fast", 4); !slices.Equal(got, []int{1}) {
		t.Fatalf("fast in endgame: %v, want [1]", got)
	}
	cancel := p.Got("fast", 1)
	if !slices.Equal(cancel, []Peer{"slow"}) {
		t.Fatalf("cancel = %v, want [slow]", cancel)
	}
	if p.Missing() != 0 || p.Outstanding("slow") != 0 {
		t.Fatalf("after Got: missing %d, slow outstanding %d", p.Missing(), p.Outstanding("slow"))
	}
}

func TestFailedIsAskedElsewhere(t *testing.T) {
	p := New(1, nil, rand.New(rand.NewPCG(7, 8)))
	p.AddPeer("bad", all(1))
	p.AddPeer("good", all(1))
	if got := p.Next("bad", 1); !slices.Equal(got, []int{0}) {
		t.Fatalf("bad: %v", got)
	}
	p.Failed("bad", 0)
	if got := p.Next("bad", 1); len(got) != 0 {
		t.Fatalf("asked bad again: %v", got)
	}
	if got := p.Next("good", 1); !slices.Equal(got, []int{0}) {
		t.Fatalf("good: %v, want [0]", got)
	}
}

func TestRemovePeerFreesRequests(t *testing.T) {
	p := New(3, nil, rand.New(rand.NewPCG(9, 9)))
	p.AddPeer("a", all(3))
	p.AddPeer("b", all(3))
	asked := p.Next("a", 3)
	p.RemovePeer("a")
	got := p.Next("b", 3)
	slices.Sort(asked)
	slices.Sort(got)
	if !slices.Equal(asked, got) {
		t.Fatalf("after a left, b was asked %v, want %v", got, asked)
	}
	if p.PeerHas("b", 3) == nil {
		t.Fatal("PeerHas out of range: want an error")
	}
}

// TestAgainstOracle checks on random swarms that every pick is one a naive
// reading of the rules allows: held by the peer, missing, not asked elsewhere
// outside endgame, and no rarer eligible piece left behind.
func TestAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := 0; round < 200; round++ {
		n := 1 + rng.IntN(40)
		p := New(n, nil, rand.New(rand.NewPCG(uint64(round), 1)))
		held := map[Peer][]bool{}
		for k := 0; k < 1+rng.IntN(5); k++ {
			id := Peer(rune('a' + k))
			h := make([]bool, n)
			for i := range h {
				h[i] = rng.IntN(2) == 0
			}
			held[id] = h
			p.AddPeer(id, h)
		}
		for id, h := range held {
			before := slices.Clone(p.inflight)
			got := p.Next(id, 1)
			if len(got) == 0 {
				for i := range h {
					if h[i] && before[i] == 0 && !p.have.has(i) {
						t.Fatalf("round %d: peer %s got nothing but piece %d was free", round, id, i)
					}
				}
				continue
			}
			g := got[0]
			if !h[g] || p.have.has(g) {
				t.Fatalf("round %d: picked %d which peer lacks or we hold", round, g)
			}
			if before[g] != 0 {
				continue // endgame duplicate; checked elsewhere
			}
			for i := range h {
				if h[i] && before[i] == 0 && p.avail[i] < p.avail[g] {
					t.Fatalf("round %d: picked %d (avail %d) over rarer %d (avail %d)", round, g, p.avail[g], i, p.avail[i])
				}
			}
		}
	}
}

func TestSameSeedSamePicks(t *testing.T) {
	run := func() []int {
		p := New(64, nil, rand.New(rand.NewPCG(42, 42)))
		p.AddPeer("a", all(64))
		return p.Next("a", 16)
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Fatalf("same seed, different picks: %v vs %v", a, b)
	}
}

// TestCountersAgainstNaive drives a picker with random operations and checks
// its incremental counters against a recount from scratch after each one.
func TestCountersAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for round := 0; round < 50; round++ {
		n := 1 + rng.IntN(150)
		p := New(n, nil, rand.New(rand.NewPCG(uint64(round), 3)))
		ids := []Peer{"a", "b", "c", "d"}
		refs := map[Peer]Ref{} // the latest AddPeer's; calls through them or by name are the same
		for step := 0; step < 400; step++ {
			id := ids[rng.IntN(len(ids))]
			byRef := rng.IntN(2) == 0
			switch op := rng.IntN(10); {
			case op == 0:
				h := make([]bool, n)
				for i := range h {
					h[i] = rng.IntN(3) == 0
				}
				refs[id] = p.AddPeer(id, h)
			case op == 1:
				p.RemovePeer(id)
			case op <= 3 && byRef:
				_ = p.PeerHasRef(refs[id], rng.IntN(n))
			case op <= 3:
				_ = p.PeerHas(id, rng.IntN(n))
			case op <= 6 && byRef:
				p.NextRef(refs[id], 1+rng.IntN(6))
			case op <= 6:
				p.Next(id, 1+rng.IntN(6))
			case op <= 8:
				p.Got(id, rng.IntN(n))
			default:
				p.Failed(id, rng.IntN(n))
			}
			unasked, out := 0, 0
			for i := 0; i < n; i++ {
				asked := 0
				for _, pr := range p.peers {
					if pr.asked.has(i) {
						asked++
						if !slices.Contains(p.askers[i][:], pr) {
							t.Fatalf("round %d step %d: piece %d asked of %s, not among its askers", round, step, i, pr.id)
						}
					}
				}
				if int(p.inflight[i]) != asked || p.busy.has(i) != (asked > 0) || p.full.has(i) != (asked >= MaxEndgameDup) {
					t.Fatalf("round %d step %d: piece %d inflight %d busy %v full %v, asked of %d", round, step, i, p.inflight[i], p.busy.has(i), p.full.has(i), asked)
				}
				if !p.have.has(i) && asked == 0 {
					unasked++
				}
				out += asked
			}
			if p.unasked != unasked || p.out != out {
				t.Fatalf("round %d step %d: unasked %d out %d, recount %d %d", round, step, p.unasked, p.out, unasked, out)
			}
		}
	}
}

// TestIdlePeerTakesOverOldestAsk: a peer that holds only pieces already
// asked of someone else, and has nothing asked of it, is asked for the one
// asked longest ago, once; a piece already asked of two peers is left
// alone, and so is a peer with a request open.
func TestIdlePeerTakesOverOldestAsk(t *testing.T) {
	p := New(4, nil, rand.New(rand.NewPCG(1, 1)))
	p.AddPeer("busy", holds(4, 0, 1, 2))
	if got := p.Next("busy", 3); len(got) != 3 {
		t.Fatalf("busy: %v", got)
	}
	p.AddPeer("idle", holds(4, 0, 1, 2))
	got := p.Next("idle", 3)
	if len(got) != 1 {
		t.Fatalf("idle peer was asked for %v, want one piece", got)
	}
	if p.askedAt[got[0]] != 1 {
		t.Fatalf("idle peer was asked for piece %d (ask %d), want the oldest ask", got[0], p.askedAt[got[0]])
	}
	if again := p.Next("idle", 3); len(again) != 0 {
		t.Fatalf("with a request open, idle was asked for %v too", again)
	}
	// A third peer may not take over the piece now asked of two.
	p.AddPeer("third", holds(4, got[0]))
	if g := p.Next("third", 1); len(g) != 0 {
		t.Fatalf("third was asked for %v, already asked of two peers", g)
	}
	// The first copy settles both asks and names the other for a Cancel.
	if c := p.Got("idle", got[0]); !slices.Equal(c, []Peer{"busy"}) {
		t.Fatalf("cancel = %v, want [busy]", c)
	}
	// A peer with an unasked piece is asked for that, not a take-over.
	p.AddPeer("fresh", holds(4, 1, 3))
	if g := p.Next("fresh", 1); !slices.Equal(g, []int{3}) {
		t.Fatalf("fresh: %v, want [3]", g)
	}
}

// TestStaleRefDoesNothing: a Ref outlives its peer's removal, and a peer
// added again under the same name, without touching either.
func TestStaleRefDoesNothing(t *testing.T) {
	p := New(8, nil, rand.New(rand.NewPCG(1, 1)))
	old := p.AddPeer("a", holds(8, 1))
	p.RemovePeer("a")
	if err := p.PeerHasRef(old, 3); err != nil || p.Availability(3) != 0 {
		t.Fatalf("a removed peer's Ref announced piece 3: err %v, availability %d", err, p.Availability(3))
	}
	cur := p.AddPeer("a", holds(8, 2))
	if err := p.PeerHasRef(old, 3); err != nil || p.Availability(3) != 0 || p.PeerHolds("a", 3) {
		t.Fatalf("a stale Ref announced piece 3 for the peer added again: availability %d", p.Availability(3))
	}
	if got := p.NextRef(old, 4); got != nil {
		t.Fatalf("a stale Ref was asked for %v", got)
	}
	if got := p.NextRef(cur, 4); !slices.Equal(got, []int{2}) {
		t.Fatalf("the current Ref was asked for %v, want [2]", got)
	}
	if err := p.PeerHasRef(cur, 9); err == nil {
		t.Fatal("piece 9 of 8 was accepted")
	}
}
