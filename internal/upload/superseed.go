package upload

// SuperSeed is the first seeder's reveal policy. At the start of a class the
// seeder's upload is the scarcest thing there is: every piece it sends twice
// before every piece has left it once is upload stolen from the whole class.
// So the seeder does not show its peers everything it holds. It reveals to
// each peer only a few pieces — always those it has revealed least, never one
// the peer already holds — and reveals another each time the peer takes one.
// Once every piece has been revealed at least once, the policy is done and
// the seeder shows everything.
//
// SuperSeed is not safe for concurrent use.
type SuperSeed struct {
	n        int
	count    []int32 // how many peers each piece was revealed to
	unsent   int     // pieces revealed to nobody yet
	done     bool    // every piece was revealed once: show everything
	revealed map[Peer]map[int]bool
}

// NewSuperSeed returns the policy for n pieces.
func NewSuperSeed(n int) *SuperSeed {
	return &SuperSeed{n: n, count: make([]int32, n), unsent: n, done: n == 0, revealed: map[Peer]map[int]bool{}}
}

// Window is how many unheld pieces to keep shown to each of peers peers:
// enough for a full pipeline, and as many as keeps every peer's pieces
// disjoint while the policy lasts — so a single student is shown everything
// at once, and super-seeding costs it nothing.
func (s *SuperSeed) Window(peers, minimum int) int {
	return max(minimum, s.n/max(1, peers))
}

// Active reports whether some piece has not been revealed to anyone yet.
// While it is, the seeder reveals pieces one by one; after, it shows all.
func (s *SuperSeed) Active() bool { return !s.done }

// Revealed reports whether piece i was revealed to peer p.
func (s *SuperSeed) Revealed(p Peer, i int) bool { return s.revealed[p][i] }

// Reveal chooses up to k pieces to show peer p: the least revealed pieces
// that p does not hold (has reports what p holds) and was not shown, lowest
// index first among equals, so a peer reading the content in order gets its
// beginning early. They are recorded as revealed.
func (s *SuperSeed) Reveal(p Peer, has func(int) bool, k int) []int {
	if !s.Active() || k <= 0 {
		return nil
	}
	shown := s.revealed[p]
	if shown == nil {
		shown = map[int]bool{}
		s.revealed[p] = shown
	}
	var out []int
	for len(out) < k {
		best := -1
		for i := 0; i < s.n; i++ {
			if shown[i] || has(i) {
				continue
			}
			if best < 0 || s.count[i] < s.count[best] {
				best = i
				if s.count[i] == 0 {
					break // nothing is revealed less
				}
			}
		}
		if best < 0 {
			break
		}
		shown[best] = true
		if s.count[best] == 0 {
			s.unsent--
			s.done = s.unsent == 0
		}
		s.count[best]++
		out = append(out, best)
	}
	return out
}

// Outstanding is how many pieces shown to p that p does not yet hold.
func (s *SuperSeed) Outstanding(p Peer, has func(int) bool) int {
	n := 0
	for i := range s.revealed[p] {
		if !has(i) {
			n++
		}
	}
	return n
}

// PeerGone forgets a peer. Pieces shown to it and never taken count as
// unrevealed again, so a student who leaves early strands nothing; once the
// policy is done it stays done, since everything is then shown to everyone.
func (s *SuperSeed) PeerGone(p Peer, has func(int) bool) {
	for i := range s.revealed[p] {
		if !has(i) && !s.done {
			s.count[i]--
			if s.count[i] == 0 {
				s.unsent++
			}
		}
	}
	delete(s.revealed, p)
}
