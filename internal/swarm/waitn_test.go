package swarm

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A piece larger than the cap's burst waits, in one sleep, until the cap has
// let all of it through: never sooner than its bytes beyond the burst take
// at the cap's rate.
func TestWaitNTakesAPieceBeyondTheBurst(t *testing.T) {
	const perSec, burst, n = 4 << 20, 16 << 10, 256 << 10
	lim := rate.NewLimiter(perSec, burst)
	start := time.Now()
	if err := waitN(context.Background(), lim, n); err != nil {
		t.Fatalf("waitN: %v", err)
	}
	least := time.Duration(float64(n-burst) / perSec * float64(time.Second))
	if took := time.Since(start); took < least {
		t.Errorf("waitN(%d) at %d B/s with a burst of %d returned after %v; want at least %v", n, perSec, burst, took, least)
	}
}

// A wait cut short gives back the bytes not yet due, so a fetch that stops
// does not cost the node's later transfers their share of the cap.
func TestWaitNCancelledGivesTheBytesBack(t *testing.T) {
	lim := rate.NewLimiter(1, 10) // one byte a second: the wait outlives the test
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- waitN(ctx, lim, 100) }()
	// Wait until the reservation is made, watching the bucket, not a clock.
	for lim.TokensAt(time.Now()) > 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waitN after cancel = %v, want context.Canceled", err)
	}
	// The first 10 bytes were due at once (the full bucket); the other 90
	// were not, and come back.
	if got := lim.TokensAt(time.Now()); got < 0 {
		t.Errorf("after a cancelled wait the bucket holds %.1f bytes, want the 90 not yet due back (0 or more)", got)
	}
}

func TestWaitNUncapped(t *testing.T) {
	for _, lim := range []*rate.Limiter{nil, rate.NewLimiter(rate.Inf, 0)} {
		if err := waitN(context.Background(), lim, 1<<30); err != nil {
			t.Errorf("waitN uncapped: %v", err)
		}
	}
}

// A cap that can let no byte through is an error, not a wait forever.
func TestWaitNZeroBurst(t *testing.T) {
	if err := waitN(context.Background(), rate.NewLimiter(1000, 0), 10); err == nil {
		t.Errorf("waitN with a burst of 0 returned no error")
	}
}
