// Package picker decides which pieces to ask which peer for. It does no I/O,
// reads no clock and starts no goroutine: the swarm tells it what peers hold
// and what arrived, and it returns requests. The same code drives the real
// swarm and the simulator.
//
// The rules: rarest first (the piece the fewest known peers hold), ties broken
// at random from a seeded source; each peer gets at most a pipeline's worth of
// outstanding requests; a piece is asked of one peer at a time until every
// missing piece is in flight, and then (endgame) a piece may also be asked of
// a second peer, so the last pieces do not wait on one slow link.
package picker

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Peer names a remote peer; the swarm uses its libp2p peer ID.
type Peer string

// MaxEndgameDup is how many peers one piece may be asked of at once in
// endgame.
const MaxEndgameDup = 2

// Picker is the download-side state of one share. It is not safe for
// concurrent use: one goroutine (the share's session) owns it.
type Picker struct {
	n        int
	have     []bool
	missing  int
	avail    []int32        // how many connected peers hold each piece
	inflight []int8         // how many peers each piece is asked of now
	peers    map[Peer]*peer // connected peers
	rng      *rand.Rand
	cand     []int // scratch
}

type peer struct {
	has      []bool
	count    int
	asked    map[int]struct{} // pieces requested from this peer, not yet settled
	refused  map[int]struct{} // pieces this peer failed to serve; not asked again
	complete bool
}

// New returns a Picker for n pieces, of which have[i] are held already (have
// may be nil). rng breaks ties; give it a fixed seed to replay a run.
func New(n int, have []bool, rng *rand.Rand) *Picker {
	p := &Picker{
		n:        n,
		have:     make([]bool, n),
		avail:    make([]int32, n),
		inflight: make([]int8, n),
		peers:    make(map[Peer]*peer),
		rng:      rng,
		missing:  n,
	}
	for i, h := range have {
		if h && i < n {
			p.have[i] = true
			p.missing--
		}
	}
	return p
}

// Missing is the number of pieces not yet held.
func (p *Picker) Missing() int { return p.missing }

// Have reports whether piece i is held.
func (p *Picker) Have(i int) bool { return p.have[i] }

// AddPeer records a newly connected peer and the pieces it holds (its
// bitfield, decoded). Adding a peer already known replaces its piece set.
func (p *Picker) AddPeer(id Peer, has []bool) {
	if _, ok := p.peers[id]; ok {
		p.RemovePeer(id)
	}
	pr := &peer{has: make([]bool, p.n), asked: map[int]struct{}{}, refused: map[int]struct{}{}}
	for i, h := range has {
		if h && i < p.n {
			pr.has[i] = true
			pr.count++
			p.avail[i]++
		}
	}
	pr.complete = pr.count == p.n
	p.peers[id] = pr
}

// PeerHas records that peer id now holds piece i. It returns an error for an
// index out of range, which means the peer breaks the protocol.
func (p *Picker) PeerHas(id Peer, i int) error {
	if i < 0 || i >= p.n {
		return fmt.Errorf("picker: peer announced piece %d of %d", i, p.n)
	}
	pr, ok := p.peers[id]
	if !ok || pr.has[i] {
		return nil
	}
	pr.has[i] = true
	pr.count++
	pr.complete = pr.count == p.n
	p.avail[i]++
	return nil
}

// RemovePeer forgets a peer; whatever was asked of it becomes free to ask of
// others.
func (p *Picker) RemovePeer(id Peer) {
	pr, ok := p.peers[id]
	if !ok {
		return
	}
	for i, h := range pr.has {
		if h {
			p.avail[i]--
		}
	}
	for i := range pr.asked {
		p.inflight[i]--
	}
	delete(p.peers, id)
}

// Interested reports whether peer id holds a piece we miss.
func (p *Picker) Interested(id Peer) bool {
	pr, ok := p.peers[id]
	if !ok {
		return false
	}
	for i, h := range pr.has {
		if h && !p.have[i] {
			return true
		}
	}
	return false
}

// PeerComplete reports whether peer id holds every piece.
func (p *Picker) PeerComplete(id Peer) bool {
	pr, ok := p.peers[id]
	return ok && pr.complete
}

// Outstanding is the number of requests now open to peer id.
func (p *Picker) Outstanding(id Peer) int {
	if pr, ok := p.peers[id]; ok {
		return len(pr.asked)
	}
	return 0
}

// Next returns pieces to request from peer id so that at most depth requests
// are open to it, and records them as asked. It returns nothing for an
// unknown peer or when the peer holds nothing we may ask it for.
func (p *Picker) Next(id Peer, depth int) []int {
	pr, ok := p.peers[id]
	if !ok || p.missing == 0 {
		return nil
	}
	want := depth - len(pr.asked)
	if want <= 0 {
		return nil
	}
	out := p.pick(pr, want, 1)
	if len(out) < want {
		// Endgame: only once no missing piece is left unasked anywhere.
		if p.unasked() == 0 {
			out = append(out, p.pick(pr, want-len(out), MaxEndgameDup)...)
		}
	}
	for _, i := range out {
		pr.asked[i] = struct{}{}
		p.inflight[i]++
	}
	return out
}

// pick chooses up to want pieces that pr holds, we miss, pr has not refused or
// been asked for, and that are asked of fewer than maxInflight peers now.
// Rarest first, random among equals.
func (p *Picker) pick(pr *peer, want, maxInflight int) []int {
	c := p.cand[:0]
	for i := 0; i < p.n; i++ {
		if p.have[i] || !pr.has[i] || int(p.inflight[i]) >= maxInflight {
			continue
		}
		if _, ok := pr.asked[i]; ok {
			continue
		}
		if _, ok := pr.refused[i]; ok {
			continue
		}
		c = append(c, i)
	}
	p.cand = c
	out := make([]int, 0, min(want, len(c)))
	// Partial selection: repeatedly take the rarest, choosing uniformly among
	// equally rare candidates (reservoir sampling over one pass).
	for len(out) < want && len(c) > 0 {
		best, seen := -1, 0
		for j, i := range c {
			switch {
			case best < 0 || p.avail[i] < p.avail[c[best]]:
				best, seen = j, 1
			case p.avail[i] == p.avail[c[best]]:
				seen++
				if p.rng.IntN(seen) == 0 {
					best = j
				}
			}
		}
		out = append(out, c[best])
		c[best] = c[len(c)-1]
		c = c[:len(c)-1]
	}
	return out
}

// unasked counts missing pieces asked of nobody.
func (p *Picker) unasked() int {
	n := 0
	for i := 0; i < p.n; i++ {
		if !p.have[i] && p.inflight[i] == 0 {
			n++
		}
	}
	return n
}

// Got records that piece i arrived from peer id and verified. It returns the
// other peers the same piece is still asked of (endgame), so the caller can
// send them a Cancel; they are settled as well.
func (p *Picker) Got(id Peer, i int) (cancel []Peer) {
	if i < 0 || i >= p.n {
		return nil
	}
	for pid, pr := range p.peers {
		if _, ok := pr.asked[i]; ok {
			delete(pr.asked, i)
			p.inflight[i]--
			if pid != id {
				cancel = append(cancel, pid)
			}
		}
	}
	if !p.have[i] {
		p.have[i] = true
		p.missing--
	}
	slices.Sort(cancel) // map order is random; callers replay runs
	return cancel
}

// Failed records that peer id will not or could not give piece i (a Reject,
// or data that failed verification): the piece becomes free to ask of others,
// and is not asked of this peer again.
func (p *Picker) Failed(id Peer, i int) {
	pr, ok := p.peers[id]
	if !ok || i < 0 || i >= p.n {
		return
	}
	if _, ok := pr.asked[i]; ok {
		delete(pr.asked, i)
		p.inflight[i]--
	}
	pr.refused[i] = struct{}{}
}
