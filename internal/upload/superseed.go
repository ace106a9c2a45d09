package upload

// SuperSeed is the first seeder's reveal policy. At the start of a class the
// seeder's upload is the scarcest thing there is: every piece it sends twice
// before every piece has left it once is upload stolen from the whole class.
// So the seeder does not show its peers everything it holds. It reveals to
// each peer only a few pieces — always those it has revealed least, never one
// the peer already holds — and reveals another each time the peer takes one.
// Once every piece has been revealed at least once and taken by a peer it
// was revealed to, the policy is done and the seeder shows everything.
//
// Except in a wide class, one with more peers than the share has pieces to go
// round (peers × window > pieces, the quiz case: 50 students, 8 pieces).
// Showing such a class everything would have every peer queue requests at
// the seeder, many copies of the share deep, while the peers could pass the
// pieces among themselves; a piece then waits seconds in the seeder's queue
// behind copies nobody needed from it. So in a wide class the policy is
// never done: the seeder keeps revealing to the end, one piece at a time to
// each peer, and never more than one copy of the share (as many pieces as
// it has) shown and not yet taken across all its peers. Its upload stays
// busy with pieces that are rare, sent at once, while the class does the
// rest.
//
// A seeder on an upload budget (a campus server that should carry no more of
// a class than it must) never shows everything either: it keeps revealing a
// minimum window at a time (KeepRevealing), and once what it sent and what
// it owes reach its budget it reveals only pieces no other peer holds or is
// owed (BudgetFilter, RevealFrom), so a piece whose holders all left is never
// stranded, and the class does the rest.
//
// A super-seed hears of every piece its peers take, and a seeder with one
// fast peer shows it everything at once: the per-peer bookkeeping is a
// bitset of the pieces shown and a list of those still owed, so noting a
// peer's pieces costs what it still owes, and a reveal with nothing left to
// show costs nothing.
//
// SuperSeed is not safe for concurrent use.
type SuperSeed struct {
	n        int
	count    []int32           // how many peers each piece was revealed to
	unsent   int               // pieces revealed to nobody yet
	taken    []bool            // a peer it was revealed to was seen holding it
	untaken  int               // pieces not taken yet
	done     bool              // every piece was revealed and taken: show everything
	wide     bool              // peers × window > n was seen: see SuperSeed
	revealed map[Peer]*shownTo // per peer, the pieces shown to it
	// out is, per peer, how many pieces shown to it it did not hold when
	// last asked; total is their sum: the copies the seeder owes.
	out   map[Peer]int
	total int
	// endless: KeepRevealing was called. owing counts, per piece, the
	// peers it is shown to that were not yet seen holding it (revealed's
	// true values).
	endless bool
	owing   []int32
}

// KeepRevealing makes the policy never done: the seeder keeps showing
// pieces a window at a time instead of everything once each has been taken.
func (s *SuperSeed) KeepRevealing() { s.endless = true }

// BudgetFilter is what a seeder on an upload budget of budget bytes may
// still reveal, having sent sent bytes, in pieces of pieceSize: anything
// (nil) while what it sent and what it owes stay within the budget; after
// that only pieces no peer holds (held reports whether one does) and none
// is owed. A budget of 0 is none.
func (s *SuperSeed) BudgetFilter(sent, budget, pieceSize int64, held func(i int) bool) func(i int) bool {
	if budget <= 0 || sent+int64(s.total)*pieceSize < budget {
		return nil
	}
	return func(i int) bool { return !held(i) && s.owing[i] == 0 }
}

// NewSuperSeed returns the policy for n pieces.
func NewSuperSeed(n int) *SuperSeed {
	return &SuperSeed{n: n, count: make([]int32, n), unsent: n, taken: make([]bool, n), untaken: n,
		done: n == 0, revealed: map[Peer]*shownTo{}, out: map[Peer]int{}, owing: make([]int32, n)}
}

// shownTo is what a super-seed showed one peer: every piece shown, and the
// pieces shown that the peer was not yet seen holding (owed). A peer's
// holdings only grow, so a piece leaves owed for good.
type shownTo struct {
	shown []uint64 // bitset over pieces
	n     int      // pieces shown
	owed  []int
}

func (t *shownTo) has(i int) bool { return t != nil && t.shown[i/64]&(1<<(i%64)) != 0 }

func (t *shownTo) add(i int) {
	t.shown[i/64] |= 1 << (i % 64)
	t.n++
	t.owed = append(t.owed, i)
}

// Window is how many unheld pieces to keep shown to each of peers peers:
// enough for a full pipeline (minimum), and as many as keeps every peer's
// pieces disjoint while the policy lasts — so a single student is shown
// everything at once, and super-seeding costs it nothing. A seeder that
// keeps revealing (on a budget) shows the minimum, so the first peers to
// come are not shown the whole budget. In a wide class
// (peers × minimum > pieces) it is one piece, or more if there are pieces
// enough, and the class is remembered as wide for good (see SuperSeed): the
// peers of a class come up one by one, and one that leaves does not make the
// rest narrow.
func (s *SuperSeed) Window(peers, minimum int) int {
	s.wide = s.wide || peers*minimum > s.n
	if s.wide {
		return max(1, s.n/max(1, peers))
	}
	if s.endless {
		// On a budget: a few pieces each, so the first peer to come is
		// not shown the whole budget.
		return minimum
	}
	return max(minimum, s.n/max(1, peers))
}

// Active reports whether the seeder still reveals pieces one by one: some
// piece has not been revealed to anyone yet, or the class is wide, or the
// seeder keeps revealing (KeepRevealing). After, it shows all.
func (s *SuperSeed) Active() bool { return !s.done || s.wide || s.endless }

// Revealed reports whether piece i was revealed to peer p.
func (s *SuperSeed) Revealed(p Peer, i int) bool { return s.revealed[p].has(i) }

// Reveal chooses up to k pieces to show peer p: the least revealed pieces
// that p does not hold (has reports what p holds) and was not shown, lowest
// index first among equals, so a peer reading the content in order gets its
// beginning early. In a wide class it chooses no more than keeps one copy of
// the share shown and not taken across all peers. They are recorded as
// revealed.
func (s *SuperSeed) Reveal(p Peer, has func(int) bool, k int) []int {
	return s.RevealFrom(p, has, k, nil)
}

// RevealFrom is Reveal choosing only among the pieces for which ok holds
// (nil: all), as BudgetFilter says.
func (s *SuperSeed) RevealFrom(p Peer, has func(int) bool, k int, ok func(i int) bool) []int {
	if !s.Active() || k <= 0 {
		return nil
	}
	shown := s.revealed[p]
	if shown == nil {
		shown = &shownTo{shown: make([]uint64, (s.n+63)/64)}
		s.revealed[p] = shown
	}
	s.note(p, has)
	if s.wide {
		k = min(k, s.n-s.total)
	}
	var out []int
	for len(out) < k && shown.n < s.n {
		best := -1
		for i := 0; i < s.n; i++ {
			if best >= 0 && s.count[i] >= s.count[best] {
				continue // could not beat best; spare the lookups
			}
			if shown.has(i) || has(i) || (ok != nil && !ok(i)) {
				continue
			}
			best = i
			if s.count[i] == 0 {
				break // nothing is revealed less
			}
		}
		if best < 0 {
			break
		}
		shown.add(best) // owed until p is seen holding it
		s.owing[best]++
		if s.count[best] == 0 {
			s.unsent--
		}
		s.count[best]++
		out = append(out, best)
	}
	s.out[p] += len(out)
	s.total += len(out)
	return out
}

// Owing reports whether piece i is shown to a peer not yet seen holding it:
// the seeder may still be asked for it.
func (s *SuperSeed) Owing(i int) bool { return s.owing[i] > 0 }

// Owed is how many pieces shown, across all peers, were not yet held by
// their peer when last counted (Outstanding and Reveal count a peer's).
func (s *SuperSeed) Owed() int { return s.total }

// Outstanding is how many pieces shown to p that p does not yet hold.
func (s *SuperSeed) Outstanding(p Peer, has func(int) bool) int {
	return s.note(p, has)
}

// note recounts the pieces shown to p that p does not hold, keeps the total
// owed in step, and marks the pieces p took.
func (s *SuperSeed) note(p Peer, has func(int) bool) int {
	var owed []int
	t := s.revealed[p]
	if t != nil {
		owed = t.owed
	}
	still := owed[:0]
	for _, i := range owed {
		if !has(i) {
			still = append(still, i)
			continue
		}
		if !s.taken[i] {
			s.taken[i] = true
			s.untaken--
		}
		s.owing[i]--
	}
	if t != nil {
		t.owed = still
	}
	n := len(still)
	s.done = s.unsent == 0 && s.untaken == 0
	s.total += n - s.out[p]
	if n == 0 {
		delete(s.out, p)
	} else {
		s.out[p] = n
	}
	return n
}

// PeerGone forgets a peer. Pieces shown to it and never taken count as
// unrevealed again, so a student who leaves early strands nothing; once the
// policy is done it stays done (a seeder that keeps revealing then orders
// its reveals by counts that include departed peers, which only changes
// which piece goes first). Nothing shown to the peer is owed any more.
func (s *SuperSeed) PeerGone(p Peer, has func(int) bool) {
	if t := s.revealed[p]; t != nil {
		for _, i := range t.owed {
			if !has(i) && !s.done {
				s.count[i]--
				if s.count[i] == 0 {
					s.unsent++
				}
			}
			s.owing[i]--
		}
	}
	s.total -= s.out[p]
	delete(s.out, p)
	delete(s.revealed, p)
}
