package swarm

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// ErrMisbehaved is wrapped by the error that ends a link whose peer broke
// the protocol: a message too large or malformed, an index out of range, or
// more messages than any honest peer could have sent. Such a peer is
// refused by the session for penaltyFor.
var ErrMisbehaved = errors.New("swarm: peer broke the protocol")

// budget bounds the control messages (have, request, cancel, reject) and
// the unrequested pieces one peer may send on one link by what an honest
// peer can send, however fast or slow it sends them:
//
//   - a have per piece it gets: at most one per piece;
//   - a cancel per piece it gets elsewhere while it is asked of us: at most
//     one per piece;
//   - a request per piece we serve it, per request it cancels (at most one
//     per piece), and up to MaxQueuedRequests open;
//   - a reject per request we send it;
//   - an unrequested piece per cancel we send it (its piece crossed our
//     cancel).
//
// So a peer that has sent more control messages than allowance + earned,
// where earned counts the pieces we served it and the requests we sent it,
// or more unrequested pieces than our cancels and a little
// slack, breaks the protocol: a request flood is cut off after a few
// thousand messages, a flood of pieces after a few pieces, whatever the
// rate, and an honest peer never is. budget decides only; it is not safe for
// concurrent use (the link's reader owns it, and reads the counters the
// other goroutines add to).
type budget struct {
	allowance int64
	spent     int64
	strays    int64
}

// straySlack is how many unrequested pieces beyond our cancels a peer may
// send.
const straySlack = 8

// newBudget returns the budget of a link of a share of numPieces pieces:
// twice the haves, cancels and cancelled requests an honest peer can send,
// and room for its open requests.
func newBudget(numPieces int) budget {
	return budget{allowance: 6*int64(numPieces) + 4*MaxQueuedRequests}
}

// spend charges one message, given what the peer has earned so far. It
// returns an error wrapping ErrMisbehaved once the peer has sent more than an
// honest peer could have.
func (b *budget) spend(earned int64) error {
	b.spent++
	if limit := b.allowance + earned; b.spent > limit {
		return fmt.Errorf("%w: %d control messages where an honest peer sends at most %d", ErrMisbehaved, b.spent, limit)
	}
	return nil
}

// stray charges one unrequested piece, given how many cancels we sent the
// peer. It returns an error wrapping ErrMisbehaved once the peer has sent
// more than its cancels explain.
func (b *budget) stray(cancels int64) error {
	b.strays++
	if limit := cancels + straySlack; b.strays > limit {
		return fmt.Errorf("%w: %d unrequested pieces after %d cancels", ErrMisbehaved, b.strays, cancels)
	}
	return nil
}

// pieceSet is a set of piece indexes. It is not safe for concurrent use.
type pieceSet []uint64

func newPieceSet(n int) pieceSet { return make(pieceSet, (n+63)/64) }

func (s pieceSet) has(i uint32) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s pieceSet) add(i uint32)      { s[i/64] |= 1 << (i % 64) }

// A peer may bring up linkUpBurst links to one session at once, and one more
// each linkUpEvery after. An honest peer opens one, and another when the
// first breaks or when both ends dial at once; a peer that opens more makes
// the session redo the handshake's work for nothing.
const (
	linkUpBurst = 32
	linkUpEvery = time.Second
)

// maxLinkRates is how many peers' link rates a session keeps before it
// forgets those that have been quiet long enough to be back at a full burst.
const maxLinkRates = 1024

// linkRate decides whether a peer may do something again now: bring up
// another link (every and burst zero mean linkUpEvery and linkUpBurst), or
// waste another stream. Time is passed in. It is not safe for concurrent
// use: the session goroutine owns the session's.
type linkRate struct {
	last  map[peer.ID]*rate.Limiter
	every time.Duration
	burst int
}

func (r *linkRate) allow(p peer.ID, now time.Time) bool {
	every, burst := r.every, r.burst
	if every == 0 {
		every, burst = linkUpEvery, linkUpBurst
	}
	lim := r.last[p]
	if lim == nil {
		if len(r.last) >= maxLinkRates {
			for q, l := range r.last {
				if l.TokensAt(now) >= float64(burst) {
					delete(r.last, q)
				}
			}
		}
		lim = rate.NewLimiter(rate.Every(every), burst)
		r.last[p] = lim
	}
	return lim.AllowN(now, 1)
}
