package upload

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// revealWindow is the session's minimum window (swarm.minRevealWindow).
const revealWindow = 2

func holds(set map[int]bool) func(int) bool { return func(i int) bool { return set[i] } }

func TestSuperSeedWindow(t *testing.T) {
	for _, c := range []struct {
		name          string
		pieces, peers int
		want          int
		wide          bool
	}{
		{"one student sees everything", 512, 1, 512, false},
		{"s2 class", 512, 30, 17, false},
		{"many pieces per peer", 64, 4, 16, false},
		{"just narrow", 8, 4, 2, false},
		{"quiz class", 8, 50, 1, true},
		{"just wide", 8, 5, 1, true},
		{"wide but pieces to go round twice", 100, 51, 1, true},
		{"s6 class", 1193, 1000, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewSuperSeed(c.pieces)
			if got := s.Window(c.peers, revealWindow); got != c.want || s.wide != c.wide {
				t.Fatalf("Window(%d, %d) of %d pieces = %d, wide %v; want %d, wide %v", c.peers, revealWindow, c.pieces, got, s.wide, c.want, c.wide)
			}
		})
	}
}

// TestSuperSeedQuiz is the quiz case: 8 pieces, 50 students. Each is shown
// one piece, every piece is shown once before any twice, no more than one
// copy of the share is owed at a time, and the policy never ends.
func TestSuperSeedQuiz(t *testing.T) {
	const pieces, peers = 8, 50
	s := NewSuperSeed(pieces)
	held := make([]map[int]bool, peers)
	var shown []int
	for p := range peers {
		held[p] = map[int]bool{}
		w := s.Window(peers, revealWindow)
		got := s.Reveal(Peer(fmt.Sprint(p)), holds(held[p]), w-s.Outstanding(Peer(fmt.Sprint(p)), holds(held[p])))
		shown = append(shown, got...)
	}
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(shown, want) {
		t.Fatalf("shown %v to the class at once; want each piece once, %v", shown, want)
	}
	// Peer 0 takes piece 0: one more piece may be shown, the least shown.
	held[0][0] = true
	if got := s.Reveal("0", holds(held[0]), s.Window(peers, revealWindow)-s.Outstanding("0", holds(held[0]))); !slices.Equal(got, []int{1}) {
		t.Fatalf("after peer 0 took piece 0 it was shown %v; want [1]", got)
	}
	if got := s.Reveal("9", holds(held[9]), 1); got != nil {
		t.Fatalf("peer 9 was shown %v while a whole copy is owed", got)
	}
	for p := range peers {
		for i := range pieces {
			held[p][i] = true
		}
		s.Outstanding(Peer(fmt.Sprint(p)), holds(held[p]))
	}
	if !s.Active() {
		t.Fatal("the policy ended in a wide class")
	}
}

// TestSuperSeedNarrowEnds: in a class narrower than the share, the policy
// ends once every piece was shown and taken, not before.
func TestSuperSeedNarrowEnds(t *testing.T) {
	const pieces, peers = 16, 4
	s := NewSuperSeed(pieces)
	held := make([]map[int]bool, peers)
	var all []int
	for p := range peers {
		held[p] = map[int]bool{}
		got := s.Reveal(Peer(fmt.Sprint(p)), holds(held[p]), s.Window(peers, revealWindow))
		if len(got) != pieces/peers {
			t.Fatalf("peer %d shown %v; want %d pieces", p, got, pieces/peers)
		}
		all = append(all, got...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != pieces {
		t.Fatalf("the class was shown %v; want every piece once", all)
	}
	if !s.Active() {
		t.Fatal("the policy ended before any piece was taken")
	}
	for p := range peers {
		for i := range pieces {
			if s.Revealed(Peer(fmt.Sprint(p)), i) {
				held[p][i] = true
			}
		}
		s.Outstanding(Peer(fmt.Sprint(p)), holds(held[p]))
		if last := p == peers-1; s.Active() == last {
			t.Fatalf("after %d of %d peers took their pieces, Active = %v", p+1, peers, s.Active())
		}
	}
}

// TestSuperSeedOnABudget: a seeder that keeps revealing shows each peer the
// minimum window, is still active after every piece has been taken, shows a
// peer more pieces when asked, knows which pieces it still owes, and once
// restricted (to pieces nobody else holds) shows only those.
func TestSuperSeedOnABudget(t *testing.T) {
	const pieces = 8
	s := NewSuperSeed(pieces)
	s.KeepRevealing()
	if w := s.Window(2, revealWindow); w != revealWindow {
		t.Fatalf("on a budget, Window = %d; want the minimum, %d", w, revealWindow)
	}
	held := []map[int]bool{{}, {}}
	for p := range held {
		id := Peer(fmt.Sprint(p))
		got := s.Reveal(id, holds(held[p]), pieces/2)
		if !s.Owing(got[0]) {
			t.Fatalf("piece %d just shown to %s is not owed", got[0], id)
		}
		for _, i := range got {
			held[p][i] = true // taken at once
		}
		s.Outstanding(id, holds(held[p]))
	}
	if !s.done || !s.Active() || s.Owing(0) || s.Owed() != 0 {
		t.Fatalf("every piece taken: done %v, Active %v, piece 0 owed %v, %d owed; want done, active, nothing owed",
			s.done, s.Active(), s.Owing(0), s.Owed())
	}
	if got := s.Reveal("0", holds(held[0]), 2); !slices.Equal(got, []int{4, 5}) {
		t.Fatalf("peer 0, holding 0-3, was shown %v; want [4 5]", got)
	}
	if got := s.RevealFrom("0", holds(held[0]), 4, func(i int) bool { return i == 7 }); !slices.Equal(got, []int{7}) {
		t.Fatalf("restricted to piece 7, peer 0 was shown %v; want [7]", got)
	}
	if got := s.Reveal("0", holds(held[0]), 4); !slices.Equal(got, []int{6}) {
		t.Fatalf("unrestricted, peer 0 was shown %v; want [6]", got)
	}
	// Shown and owed now: 4, 5 and 6 to peer 0 (7 was restricted in and
	// is owed too). Pieces of 10 bytes: 4 owed are 40.
	if f := s.BudgetFilter(59, 100, 10, nil); f != nil {
		t.Fatal("59 sent and 40 owed of a budget of 100: restricted already")
	}
	f := s.BudgetFilter(60, 100, 10, func(i int) bool { return i == 0 })
	if f == nil {
		t.Fatal("60 sent and 40 owed of a budget of 100: not restricted")
	}
	for i, want := range []bool{false, true, true, true, false, false, false, false} {
		if f(i) != want {
			t.Errorf("past the budget, may show piece %d = %v, want %v (piece 0 held, 4-7 owed)", i, f(i), want)
		}
	}
	if s.BudgetFilter(1<<40, 0, 10, nil) != nil {
		t.Error("a budget of 0 restricted the seeder")
	}
	s.PeerGone("0", holds(held[0]))
	if s.Owing(4) || s.Owing(7) {
		t.Fatal("pieces shown to a peer that left are still owed")
	}
}

// TestSuperSeedInvariants replays random classes — students joining,
// leaving, taking shown pieces from the seeder and any piece from each
// other — driving the policy the way the session does, and checks it
// against a naive recount after every step:
//   - each reveal is a least-revealed piece the peer lacks and was not
//     shown, the lowest index among them;
//   - a piece is revealed twice only once every piece the peer could have
//     been shown instead was revealed to someone;
//   - in a wide class, nothing is shown that would make the pieces shown and
//     not yet held exceed one copy of the share;
//   - every class completes.
func TestSuperSeedInvariants(t *testing.T) { replayClasses(t, 7, false) }

// TestSuperSeedInvariantsOnABudget replays random classes with a seeder
// that keeps revealing and, from a random step on, shows only pieces no
// student holds or is owed, as a session past its upload budget does. Over
// the invariants above it checks that Owing matches a recount after every
// step and that every class still completes.
func TestSuperSeedInvariantsOnABudget(t *testing.T) { replayClasses(t, 11, true) }

// replayClasses replays 300 random classes, their randomness drawn from
// stream.
func replayClasses(t *testing.T, stream uint64, budget bool) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, stream))
		pieces := 1 + rng.IntN(24)
		students := 1 + rng.IntN(40)
		t.Run(fmt.Sprintf("seed%d_%dpieces_%dstudents", seed, pieces, students), func(t *testing.T) {
			replayClass(t, rng, pieces, students, budget)
		})
	}
}

func replayClass(t *testing.T, rng *rand.Rand, pieces, students int, budget bool) {
	s := NewSuperSeed(pieces)
	if budget {
		s.KeepRevealing()
	}
	held := map[Peer]map[int]bool{}
	shown := map[Peer]map[int]bool{} // the oracle's record of reveals
	revealedTo := make([]int, pieces)
	var linked []Peer
	next := 0
	owed := func() int {
		n := 0
		for _, q := range linked {
			for i := range shown[q] {
				if !held[q][i] {
					n++
				}
			}
		}
		return n
	}
	// allowed is what the seeder may show now: past the budget, pieces no
	// student holds or is owed.
	restricted := false
	heldByAny := func(i int) bool {
		for _, q := range linked {
			if held[q][i] {
				return true
			}
		}
		return false
	}
	allowed := func(i int) bool { return !restricted || !heldByAny(i) && !s.Owing(i) }
	owing := func(i int) bool {
		for _, q := range linked {
			if shown[q][i] && !held[q][i] {
				return true
			}
		}
		return false
	}
	reveal := func(p Peer) {
		if !s.Active() {
			return
		}
		w := s.Window(len(linked), revealWindow)
		k := w - s.Outstanding(p, holds(held[p]))
		before := owed()
		may := make([]bool, pieces) // what the seeder may show, before it shows
		for j := range may {
			may[j] = allowed(j)
		}
		var only func(int) bool
		if restricted {
			// Past the budget: BudgetFilter's rule, which the oracle
			// (allowed) states on its own.
			only = s.BudgetFilter(1, 1, 1, heldByAny)
		}
		got := s.RevealFrom(p, holds(held[p]), k, only)
		for _, i := range got {
			least, first := -1, -1
			for j := range pieces {
				if held[p][j] || shown[p][j] || !may[j] {
					continue
				}
				if least < 0 || revealedTo[j] < least {
					least, first = revealedTo[j], j
				}
			}
			if i != first {
				t.Fatalf("revealed piece %d (to %d peers) to %s; the least revealed it lacks is %d (to %d)", i, revealedTo[i], p, first, least)
			}
			shown[p][i] = true
			revealedTo[i]++
		}
		// Peers shown many pieces while the class looked narrow may owe
		// more than a copy when it turns wide; from then on nothing more is
		// shown until what is owed drops below a copy.
		if after := owed(); s.wide && len(got) > 0 && (before >= pieces || after > pieces) {
			t.Fatalf("a wide class owed %d pieces of %d and was shown %v, owing %d", before, pieces, got, after)
		}
	}
	join := func() {
		p := Peer(fmt.Sprint("s", next))
		next++
		held[p], shown[p] = map[int]bool{}, map[int]bool{}
		linked = append(linked, p)
		reveal(p)
	}
	complete := func(p Peer) bool { return len(held[p]) == pieces }
	for range students {
		join()
	}
	for step := 0; ; step++ {
		if step > 100_000 {
			t.Fatal("the class never completed")
		}
		waiting := slices.DeleteFunc(slices.Clone(linked), complete)
		if len(waiting) == 0 {
			return
		}
		if budget {
			for i := range pieces {
				if s.Owing(i) != owing(i) {
					t.Fatalf("step %d: Owing(%d) = %v, a recount says %v", step, i, s.Owing(i), owing(i))
				}
			}
			if !restricted && rng.IntN(50) == 0 {
				restricted = true
			}
		}
		p := waiting[rng.IntN(len(waiting))]
		switch r := rng.IntN(20); {
		case r == 0 && next < 2*students:
			// A student leaves and another joins.
			s.PeerGone(p, holds(held[p]))
			for i := range shown[p] {
				if !held[p][i] && !s.done {
					revealedTo[i]--
				}
			}
			linked = slices.DeleteFunc(linked, func(q Peer) bool { return q == p })
			delete(held, p)
			delete(shown, p)
			join()
		case r < 10:
			// p takes a piece the seeder showed it, if any.
			var want []int
			for i := range shown[p] {
				if !held[p][i] {
					want = append(want, i)
				}
			}
			if !s.Active() {
				for i := range pieces {
					if !held[p][i] {
						want = append(want, i)
					}
				}
			}
			if len(want) == 0 {
				continue
			}
			slices.Sort(want)
			held[p][want[rng.IntN(len(want))]] = true
			reveal(p)
		default:
			// p takes a piece from a classmate that holds one it lacks.
			q := linked[rng.IntN(len(linked))]
			for i := range pieces {
				if held[q][i] && !held[p][i] {
					held[p][i] = true
					reveal(p)
					break
				}
			}
		}
	}
}

// BenchmarkSuperSeedOnePeer is what a super-seed spends on one fast peer
// fetching a 1 GiB share of 2048 pieces: everything shown at once, then, for
// each piece the peer takes, what the session does on its Have (revealMore:
// count what is owed, reveal up to the window). One op is the whole fetch.
func BenchmarkSuperSeedOnePeer(b *testing.B) {
	const pieces = 2048
	for b.Loop() {
		s := NewSuperSeed(pieces)
		held := make([]bool, pieces)
		has := func(i int) bool { return held[i] }
		w := s.Window(1, 2)
		s.Reveal("p", has, w)
		for i := range pieces {
			held[i] = true
			owed := s.Outstanding("p", has)
			s.Reveal("p", has, w-owed)
		}
		if s.Active() {
			b.Fatal("the policy is still active after the peer took every piece")
		}
	}
}
