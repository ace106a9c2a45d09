package swarm

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// TestBudgetHonestPeerFits replays the most an honest peer can send on one
// link (see budget) and checks the budget lets every message through, and
// that one more message beyond a flood's allowance is refused.
func TestBudgetHonestPeerFits(t *testing.T) {
	cases := []struct {
		name                      string
		pieces                    int
		served, ourReqs, ourCanc  int64 // what the peer earns
		haves, cancels, cancelled int64 // what it spends beyond that
	}{
		{"leecher of a small share", 16, 16, 10, 3, 16, 16, 16},
		{"seeder's peer, nothing asked of it", 128, 128, 0, 0, 0, 0, 0},
		{"peer that serves us everything", 1024, 0, 1024, 200, 1024, 200, 0},
		{"endgame churn", 64, 40, 64, 64, 64, 64, 64},
		{"single piece", 1, 1, 1, 1, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBudget(c.pieces)
			var earned int64
			spend := func(n int64, what string) {
				for range n {
					if err := b.spend(earned); err != nil {
						t.Fatalf("honest %s refused: %v", what, err)
					}
				}
			}
			// Its first requests, before anything is served.
			spend(MaxQueuedRequests, "open request")
			for range c.served {
				earned++ // we served a piece
				spend(1, "request after a served piece")
			}
			earned += c.ourReqs
			spend(c.ourReqs, "reject of our request")
			for range c.ourCanc {
				if err := b.stray(c.ourCanc); err != nil {
					t.Fatalf("honest piece crossing our cancel refused: %v", err)
				}
			}
			spend(c.haves, "have")
			spend(c.cancels, "cancel")
			spend(c.cancelled, "request it then cancelled")
		})
	}
}

func TestBudgetCutsAFloodOff(t *testing.T) {
	for _, pieces := range []int{1, 128, 32768} {
		b := newBudget(pieces)
		limit := 6*int64(pieces) + 4*MaxQueuedRequests
		var n int64
		var err error
		for err == nil && n <= limit+1 {
			n++
			err = b.spend(0) // requests we reject, or cancels: nothing earned
		}
		if !errors.Is(err, ErrMisbehaved) || n != limit+1 {
			t.Errorf("%d pieces: flood refused at message %d (%v), want at %d", pieces, n, err, limit+1)
		}
	}
}

func TestBudgetCutsAPieceFloodOff(t *testing.T) {
	b := newBudget(128)
	const cancels = 5
	for i := range cancels + straySlack {
		if err := b.stray(cancels); err != nil {
			t.Fatalf("stray piece %d refused: %v", i+1, err)
		}
	}
	if err := b.stray(cancels); !errors.Is(err, ErrMisbehaved) {
		t.Fatalf("stray piece beyond the cancels and slack: %v, want ErrMisbehaved", err)
	}
}

// TestLinkRate drives the per-peer link rate on a virtual clock: a burst,
// then one link per linkUpEvery, each peer on its own.
func TestLinkRate(t *testing.T) {
	r := linkRate{last: map[peer.ID]*rate.Limiter{}}
	t0 := time.Unix(1_700_000_000, 0)
	a, b := peer.ID("a"), peer.ID("b")
	for i := range linkUpBurst {
		if !r.allow(a, t0) {
			t.Fatalf("link %d of a burst refused", i+1)
		}
	}
	if r.allow(a, t0) {
		t.Fatal("a link beyond the burst allowed")
	}
	if !r.allow(b, t0) {
		t.Fatal("another peer's first link refused")
	}
	if r.allow(a, t0.Add(linkUpEvery/2)) {
		t.Fatal("a link allowed before the rate refilled one")
	}
	if !r.allow(a, t0.Add(linkUpEvery)) {
		t.Fatal("a link refused after the rate refilled one")
	}
	// Quiet peers are forgotten once the table is full.
	late := t0.Add(time.Hour)
	for i := range maxLinkRates {
		r.allow(peer.ID(rune(i+1000)), late)
	}
	if len(r.last) > maxLinkRates+1 {
		t.Fatalf("the table holds %d peers, want it swept near %d", len(r.last), maxLinkRates)
	}
}
