// Package upload decides what a node sends: which queued request it serves
// next, and — for the share's first seeder — which pieces it reveals to whom,
// so that it sends every piece once before it sends any piece twice. It does
// no I/O, reads no clock and starts no goroutine: the swarm and the simulator
// drive the same code.
package upload

import "fmt"

// Peer names a remote peer.
type Peer string

// Request is one piece a peer asked for.
type Request struct {
	Peer  Peer
	Piece int
}

// Queue holds the requests a node has accepted and chooses the next one to
// serve: peers take turns (round robin), and each peer's requests are served
// in the order they came. Taking turns spreads a node's upload over everyone
// that asks, so no peer waits behind another's long pipeline. It is not safe
// for concurrent use.
type Queue struct {
	max    int
	queues map[Peer][]int
	ring   []Peer // peers with queued requests, in turn order
	next   int
	n      int
}

// NewQueue returns a Queue that accepts at most maxPerPeer requests from one
// peer.
func NewQueue(maxPerPeer int) *Queue {
	return &Queue{max: maxPerPeer, queues: map[Peer][]int{}}
}

// Len is the number of queued requests.
func (q *Queue) Len() int { return q.n }

// Add queues a request. It returns an error, and queues nothing, if the peer
// already has its maximum queued: the caller rejects the request.
func (q *Queue) Add(p Peer, piece int) error {
	cur, ok := q.queues[p]
	if len(cur) >= q.max {
		return fmt.Errorf("upload: peer %s already has %d requests queued", p, len(cur))
	}
	if !ok || len(cur) == 0 {
		q.ring = append(q.ring, p)
	}
	q.queues[p] = append(cur, piece)
	q.n++
	return nil
}

// Cancel removes a queued request, reporting whether it was queued.
func (q *Queue) Cancel(p Peer, piece int) bool {
	cur := q.queues[p]
	for i, x := range cur {
		if x == piece {
			q.queues[p] = append(cur[:i], cur[i+1:]...)
			q.n--
			if len(q.queues[p]) == 0 {
				q.dropFromRing(p)
			}
			return true
		}
	}
	return false
}

// RemovePeer drops every request of a peer that left.
func (q *Queue) RemovePeer(p Peer) {
	q.n -= len(q.queues[p])
	delete(q.queues, p)
	q.dropFromRing(p)
}

func (q *Queue) dropFromRing(p Peer) {
	delete(q.queues, p)
	for i, r := range q.ring {
		if r == p {
			q.ring = append(q.ring[:i], q.ring[i+1:]...)
			if q.next > i {
				q.next--
			}
			break
		}
	}
	if q.next >= len(q.ring) {
		q.next = 0
	}
}

// Next removes and returns the request to serve now: the oldest request of
// the peer whose turn it is.
func (q *Queue) Next() (Request, bool) {
	if len(q.ring) == 0 {
		return Request{}, false
	}
	p := q.ring[q.next]
	cur := q.queues[p]
	r := Request{Peer: p, Piece: cur[0]}
	q.n--
	if len(cur) == 1 {
		q.dropFromRing(p)
	} else {
		q.queues[p] = cur[1:]
		q.next = (q.next + 1) % len(q.ring)
	}
	return r, true
}
