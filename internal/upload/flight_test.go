package upload

import (
	"testing"
	"time"
)

// TestFlightHoldsWhatTheLinkDelivers drives a Flight over a link that
// delivers pieces one after the other at its rate, each acknowledged as it
// arrives, for 30 s: the link must never idle for want of a piece in flight,
// and what the node keeps in flight must settle near FlightTarget of the
// link's rate plus two pieces, a few pieces on a slow uplink, many on a
// fast one.
func TestFlightHoldsWhatTheLinkDelivers(t *testing.T) {
	const piece = 256 << 10
	for _, tc := range []struct {
		name       string
		rate       float64 // the link's, bytes/s
		minP, maxP int     // pieces in flight at the end
	}{
		{"1 MiB/s", 1 << 20, 9, 11},
		{"6 MiB/s", 6 << 20, 48, 52},
		{"100 MiB/s: at most MaxFlightPieces", 100 << 20, MaxFlightPieces, MaxFlightPieces},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flight
			start := time.Unix(0, 0)
			now := start
			var queue []time.Time // when each piece in flight is delivered
			idle := time.Duration(0)
			for now.Sub(start) < 30*time.Second {
				for f.CanSend(piece) {
					at := now
					if n := len(queue); n > 0 && queue[n-1].After(at) {
						at = queue[n-1]
					}
					queue = append(queue, at.Add(time.Duration(piece/tc.rate*float64(time.Second))))
					f.Sent(piece)
				}
				next := queue[0]
				if next.Sub(now) > time.Duration(piece/tc.rate*float64(time.Second))+time.Microsecond {
					idle += next.Sub(now) - time.Duration(piece/tc.rate*float64(time.Second))
				}
				now, queue = next, queue[1:]
				f.Done(now, piece, true)
			}
			pieces, _ := f.InFlight()
			limit := int(f.Limit(piece) / piece)
			if limit < tc.minP || limit > tc.maxP {
				t.Errorf("limit %d pieces (%d in flight, rate %.0f B/s), want %d-%d", limit, pieces, f.Rate(), tc.minP, tc.maxP)
			}
			if idle > 0 {
				t.Errorf("the link idled %v for want of a piece in flight", idle)
			}
		})
	}
}

// TestFlightLimits: a fresh Flight sends MinFlightPieces, then waits for a
// Done; a piece given up on frees its place but adds nothing to the rate;
// one peer may hold half the flight; the first piece always goes, however
// large.
func TestFlightLimits(t *testing.T) {
	const piece = 256 << 10
	var f Flight
	for i := range MinFlightPieces {
		if !f.CanSend(piece) {
			t.Fatalf("piece %d of the first %d may not leave", i, MinFlightPieces)
		}
		f.Sent(piece)
	}
	if f.CanSend(piece) {
		t.Fatalf("a piece beyond the first %d may leave before any Done", MinFlightPieces)
	}
	now := time.Unix(0, 0)
	f.Done(now, piece, false)
	f.Done(now.Add(time.Second), piece, false)
	if f.Rate() != 0 {
		t.Errorf("pieces given up on made a rate of %v", f.Rate())
	}
	if !f.CanSend(piece) {
		t.Error("a piece may not leave after two were given up on")
	}
	if got := f.PerPeer(piece); got != MinFlightPieces/2 {
		t.Errorf("a fresh flight lets one peer hold %d pieces, want half of %d", got, MinFlightPieces)
	}
	var g Flight
	if !g.CanSend(1 << 40) {
		t.Error("the first piece, however large, may not leave")
	}
}
