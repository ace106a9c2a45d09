package swarm

import (
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/upload"
)

// TestFlightWakesInOrder: once the flight is full, uploaders wait; each
// piece that lands lets the first waiter go, and only it; a waiter whose
// link goes down leaves the queue without taking room.
func TestFlightWakesInOrder(t *testing.T) {
	const size = 256 << 10
	f := NewFlight()
	never := make(chan struct{})
	for range upload.MinFlightPieces {
		if !f.acquire(size, never) {
			t.Fatal("no room in an empty flight")
		}
	}
	got := make(chan int, 3)
	gone := make(chan struct{})
	for i := range 3 {
		done := never
		if i == 1 {
			done = gone
		}
		go func() {
			if f.acquire(size, done) {
				got <- i
			} else {
				got <- -i
			}
		}()
		waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.waiting) == i+1 })
	}
	close(gone) // the second waiter's link went down
	if r := <-got; r != -1 {
		t.Fatalf("the waiter whose link went down returned %d", r)
	}
	f.land(size, true)
	if r := <-got; r != 0 {
		t.Fatalf("the first piece to land let waiter %d go, want 0", r)
	}
	select {
	case r := <-got:
		t.Fatalf("waiter %d went with no room", r)
	default:
	}
	f.land(size, false)
	if r := <-got; r != 2 {
		t.Fatalf("the second piece to land let waiter %d go, want 2", r)
	}
	if n, b := f.InFlight(); n != upload.MinFlightPieces || b != upload.MinFlightPieces*size {
		t.Errorf("in flight %d pieces, %d bytes; want %d", n, b, upload.MinFlightPieces)
	}
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
	}
}
