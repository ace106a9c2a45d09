// Package picker decides which pieces to ask which peer for. It does no I/O,
// reads no clock and starts no goroutine: the swarm tells it what peers hold
// and what arrived, and it returns requests. The same code drives the real
// swarm and the simulator.
//
// The rules: rarest first (the piece the fewest known peers hold), ties broken
// at random from a seeded source; each peer gets at most a pipeline's worth of
// outstanding requests (see Pipeline); a piece is asked of one peer at a time
// until every missing piece is in flight, and then (endgame) a piece may also
// be asked of a second peer, so the last pieces do not wait on one slow link.
// Before that, a peer that would idle for us — it holds nothing we miss that
// is not already asked of someone, and nothing is asked of it — takes over:
// it is asked, once at a time, for the piece asked longest ago of one other
// peer, which is likely still waiting in that peer's queue. Whichever copy
// comes first cancels the other request, which costs nothing while it is
// still queued. In a class that starts at once this is what keeps the first
// holders of a piece from queueing their whole neighbourhood while later
// holders idle.
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
	have     bitset
	missing  int
	avail    []int32                // how many connected peers hold each piece
	inflight []int8                 // how many peers each piece is asked of now
	askers   [][MaxEndgameDup]*peer // whom each piece is asked of now (inflight of them)
	busy     bitset                 // pieces asked of at least one peer
	full     bitset                 // pieces asked of MaxEndgameDup peers
	unasked  int                    // missing pieces asked of nobody
	askedAt  []uint64               // when each busy piece was first asked, in asks counted (not renewed while it stays busy)
	asks     uint64
	peers    map[Peer]*peer
	rng      *rand.Rand
	maxOut   int // cap on requests open across all peers; 0: none
	out      int // requests open across all peers
	// Pieces in [urgentFrom, urgentTo) go before rarer ones: a reader is
	// waiting for them.
	urgentFrom, urgentTo int
}

// SetUrgent makes pieces from..to-1 go first, in that order, before rarest
// first: someone is reading the content there and waits for them. An empty
// range clears it.
func (p *Picker) SetUrgent(from, to int) { p.urgentFrom, p.urgentTo = from, min(to, p.n) }

type peer struct {
	id       Peer
	has      bitset
	count    int
	asked    bitset
	nAsked   int
	refused  bitset // pieces this peer failed to serve; not asked again
	complete bool
	removed  bool // RemovePeer forgot it; a Ref to it is stale
}

// Ref is a handle on the picker's record of one peer, for a caller that
// makes a call per piece and peer and would rather not look the peer up by
// name each time (the simulator runs a thousand pickers, each told of every
// piece its 80 peers get). AddPeer returns it, for use with the same
// picker; it stays valid until the peer is removed or added again, and calls
// with a stale Ref do nothing.
type Ref struct{ pr *peer }

func (r Ref) live() bool { return r.pr != nil && !r.pr.removed }

// New returns a Picker for n pieces, of which have[i] are held already (have
// may be nil). rng breaks ties; give it a fixed seed to replay a run.
func New(n int, have []bool, rng *rand.Rand) *Picker {
	p := &Picker{
		n: n, have: newBitset(n), missing: n, unasked: n,
		avail: make([]int32, n), inflight: make([]int8, n), askedAt: make([]uint64, n),
		askers: make([][MaxEndgameDup]*peer, n),
		busy:   newBitset(n), full: newBitset(n),
		peers: make(map[Peer]*peer), rng: rng,
	}
	for i, h := range have {
		if h && i < n {
			p.have.set(i)
			p.missing--
			p.unasked--
		}
	}
	return p
}

// SetMaxOutstanding caps the requests open across all peers at once; 0
// removes the cap.
func (p *Picker) SetMaxOutstanding(n int) { p.maxOut = n }

// Missing is the number of pieces not yet held.
func (p *Picker) Missing() int { return p.missing }

// Availability is how many connected peers are known to hold piece i.
func (p *Picker) Availability(i int) int { return int(p.avail[i]) }

// Have reports whether piece i is held.
func (p *Picker) Have(i int) bool { return p.have.has(i) }

// AddPeer records a newly connected peer and the pieces it holds (its
// bitfield, decoded), and returns a Ref to the record. Adding a peer already
// known replaces its piece set (and makes the old Ref stale).
func (p *Picker) AddPeer(id Peer, has []bool) Ref {
	if _, ok := p.peers[id]; ok {
		p.RemovePeer(id)
	}
	pr := &peer{id: id, has: newBitset(p.n), asked: newBitset(p.n), refused: newBitset(p.n)}
	for i, h := range has {
		if h && i < p.n {
			pr.has.set(i)
			pr.count++
			p.avail[i]++
		}
	}
	pr.complete = pr.count == p.n
	p.peers[id] = pr
	return Ref{pr}
}

// PeerHas records that peer id now holds piece i. It returns an error for an
// index out of range, which means the peer breaks the protocol.
func (p *Picker) PeerHas(id Peer, i int) error { return p.PeerHasRef(Ref{p.peers[id]}, i) }

// PeerHasRef is PeerHas for the peer r refers to.
func (p *Picker) PeerHasRef(r Ref, i int) error {
	if i < 0 || i >= p.n {
		return fmt.Errorf("picker: peer announced piece %d of %d", i, p.n)
	}
	pr := r.pr
	if !r.live() || pr.has.has(i) {
		return nil
	}
	pr.has.set(i)
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
	each(pr.has, nil0(p.n), nil0(p.n), nil0(p.n), nil, func(i int) { p.avail[i]-- })
	each(pr.asked, nil0(p.n), nil0(p.n), nil0(p.n), nil, func(i int) { p.unask(pr, i) })
	pr.removed = true
	delete(p.peers, id)
}

// nil0 is an empty bitset of n pieces, for each's unused operands.
func nil0(n int) bitset { return newBitset(n) }

// ask and unask keep the asked sets and counts, askers, inflight, busy, full
// and unasked in step.
func (p *Picker) ask(pr *peer, i int) {
	pr.asked.set(i)
	pr.nAsked++
	p.out++
	p.askers[i][p.inflight[i]] = pr
	p.inflight[i]++
	if p.inflight[i] == 1 {
		p.asks++
		p.askedAt[i] = p.asks
		p.busy.set(i)
		if !p.have.has(i) {
			p.unasked--
		}
	}
	if int(p.inflight[i]) >= MaxEndgameDup {
		p.full.set(i)
	}
}

// unask records that piece i, asked of pr, no longer is.
func (p *Picker) unask(pr *peer, i int) {
	pr.asked.clear(i)
	pr.nAsked--
	p.out--
	a := &p.askers[i]
	for k := range p.inflight[i] {
		if a[k] == pr {
			copy(a[k:], a[k+1:])
			a[len(a)-1] = nil
			break
		}
	}
	p.inflight[i]--
	if int(p.inflight[i]) < MaxEndgameDup {
		p.full.clear(i)
	}
	if p.inflight[i] == 0 {
		p.busy.clear(i)
		if !p.have.has(i) {
			p.unasked++
		}
	}
}

// Interested reports whether peer id holds a piece we miss.
func (p *Picker) Interested(id Peer) bool {
	pr, ok := p.peers[id]
	if !ok {
		return false
	}
	for w := range pr.has {
		if pr.has[w]&^p.have[w] != 0 {
			return true
		}
	}
	return false
}

// PeerHolds reports whether peer id is known to hold piece i.
func (p *Picker) PeerHolds(id Peer, i int) bool {
	pr, ok := p.peers[id]
	return ok && i >= 0 && i < p.n && pr.has.has(i)
}

// PeerComplete reports whether peer id holds every piece.
func (p *Picker) PeerComplete(id Peer) bool {
	pr, ok := p.peers[id]
	return ok && pr.complete
}

// Outstanding is the number of requests now open to peer id.
func (p *Picker) Outstanding(id Peer) int {
	if pr, ok := p.peers[id]; ok {
		return pr.nAsked
	}
	return 0
}

// Next returns pieces to request from peer id so that at most depth requests
// are open to it, and records them as asked. It returns nothing for an
// unknown peer or when the peer holds nothing we may ask it for.
func (p *Picker) Next(id Peer, depth int) []int { return p.NextRef(Ref{p.peers[id]}, depth) }

// NextRef is Next for the peer r refers to.
func (p *Picker) NextRef(r Ref, depth int) []int {
	pr := r.pr
	if !r.live() || p.missing == 0 {
		return nil
	}
	want := depth - pr.nAsked
	if p.maxOut > 0 {
		want = min(want, p.maxOut-p.out)
	}
	if want <= 0 {
		return nil
	}
	out := p.pick(pr, want, p.busy)
	if len(out) < want && p.unasked == 0 {
		// Endgame: every missing piece is asked of someone; ask a second
		// peer for those asked of only one.
		out = append(out, p.pick(pr, want-len(out), p.full)...)
	}
	if len(out) == 0 && pr.nAsked == 0 {
		// Take over: the peer holds nothing we miss that is not asked of
		// someone else, and nothing is asked of it, so it would idle for
		// us. Ask it too for the piece asked longest ago of one other
		// peer, which may still be waiting in that peer's queue; the
		// first copy to arrive cancels the other request.
		if i := p.oldestAsked(pr); i >= 0 {
			out = append(out, i)
		}
	}
	for _, i := range out {
		p.ask(pr, i)
	}
	return out
}

// pick chooses up to want pieces that pr holds, we miss, pr was not asked
// for and did not refuse, and that are not in skip. Rarest first, uniformly
// random among equally rare pieces.
func (p *Picker) pick(pr *peer, want int, skip bitset) []int {
	var out []int
	for len(out) < want {
		best, seen := -1, 0
		each(pr.has, p.have, pr.asked, pr.refused, skip, func(i int) {
			if slices.Contains(out, i) {
				return
			}
			switch {
			case best < 0 || p.before(i, best):
				best, seen = i, 1
			case p.avail[i] == p.avail[best] && p.urgent(i) == p.urgent(best) && !p.urgent(i):
				seen++
				if p.rng.IntN(seen) == 0 {
					best = i
				}
			}
		})
		if best < 0 {
			break
		}
		out = append(out, best)
	}
	return out
}

// oldestAsked is the piece pr holds, we miss and asked of one other peer
// only, that was asked the longest ago; -1 if there is none.
func (p *Picker) oldestAsked(pr *peer) int {
	best := -1
	each(pr.has, p.have, pr.asked, pr.refused, p.full, func(i int) {
		if p.busy.has(i) && (best < 0 || p.askedAt[i] < p.askedAt[best]) {
			best = i
		}
	})
	return best
}

func (p *Picker) urgent(i int) bool { return i >= p.urgentFrom && i < p.urgentTo }

// before reports whether piece i should be picked before piece j: urgent
// pieces first, lowest index first among them; then the rarer.
func (p *Picker) before(i, j int) bool {
	ui, uj := p.urgent(i), p.urgent(j)
	switch {
	case ui && uj:
		return i < j
	case ui != uj:
		return ui
	}
	return p.avail[i] < p.avail[j]
}

// Got records that piece i arrived from peer id and verified. It returns the
// other peers the same piece is still asked of (endgame), so the caller can
// send them a Cancel; they are settled as well.
func (p *Picker) Got(id Peer, i int) (cancel []Peer) {
	if i < 0 || i >= p.n {
		return nil
	}
	for _, pr := range p.askers[i] { // a copy: unask changes it
		if pr == nil {
			break
		}
		p.unask(pr, i)
		if pr.id != id {
			cancel = append(cancel, pr.id)
		}
	}
	if !p.have.has(i) {
		p.have.set(i)
		p.missing--
		if p.inflight[i] == 0 {
			p.unasked--
		}
	}
	slices.Sort(cancel) // in name order, whatever the order asked
	return cancel
}

// Released records that peer id turned a request for piece i down for now
// (its queue was full): the piece becomes free to ask of anyone again.
func (p *Picker) Released(id Peer, i int) {
	pr, ok := p.peers[id]
	if !ok || i < 0 || i >= p.n || !pr.asked.has(i) {
		return
	}
	p.unask(pr, i)
}

// Failed records that peer id could not give piece i (its data failed
// verification): the piece becomes free to ask of others, and is not asked
// of this peer again.
func (p *Picker) Failed(id Peer, i int) {
	pr, ok := p.peers[id]
	if !ok || i < 0 || i >= p.n {
		return
	}
	if pr.asked.has(i) {
		p.unask(pr, i)
	}
	pr.refused.set(i)
}
