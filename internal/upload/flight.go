package upload

import "time"

// Flight decides how much a node with no upload cap sends before its peers
// say they got it. Nobody tells a laptop its link's speed. A node that
// hands every peer that asks a piece at once spreads its uplink over as
// many TCP flows as it has peers, and on a slow uplink each flow then
// crawls: a campus student with 1 MiB/s up and 30 peers moves each piece
// at about 35 KB/s, and its own requests to those peers, sent on the same
// connections behind the pieces, wait seconds. Its downloads starve while
// its upload is busy (measured: in a class where half the students upload
// at 1 MiB/s and half at 6, the slow half finished 15-20 s after the
// fast).
//
// So a node keeps in flight, sent and not yet acknowledged by the peer's
// Have, about what it delivers in FlightTarget, plus two pieces to grow
// on, and never less than MinFlightPieces: a slow uplink serves a few
// peers at a time at its whole speed, and a fast one as many as asks. A
// piece whose Have never comes (the peer had it already, or left) frees
// its place after the caller's timeout, counted as not delivered.
//
// A Have is late when its sender's own uploads to us fill the connection
// ahead of it, and a flight that waits for late Haves leaves the link
// idle. FlightTarget is two seconds for that: with one, a class where
// every uplink is 2 MiB/s (S3) finished 8 % later than with no flight at
// all, its machine 71 % busy; with two, 3 % later; with three, as before
// but a class with half its uplinks at 1 MiB/s (S4) lost most of what the
// flight won it.
//
// Flight does no I/O and reads no clock: the caller passes the time. It is
// not safe for concurrent use.
type Flight struct {
	out      int64 // bytes sent and not yet acknowledged or timed out
	pieces   int   // pieces sent and not yet acknowledged or timed out
	acked    int64 // bytes acknowledged since the last sample
	last     time.Time
	rate     float64 // bytes per second acknowledged, smoothed
	sampling bool
}

// FlightTarget is how long the bytes a node keeps in flight take to deliver
// at the rate its peers acknowledge.
const FlightTarget = 2 * time.Second

// MinFlightPieces is the fewest pieces a node keeps in flight, whatever its
// measured rate: enough for a node that has just started to fill a link.
const MinFlightPieces = 4

// MaxFlightPieces is the most pieces a node keeps in flight.
const MaxFlightPieces = 256

// flightSample is how often the acknowledged rate is folded in.
const flightSample = 500 * time.Millisecond

// Limit is the most bytes the node keeps in flight when it sends pieces of
// size bytes.
func (f *Flight) Limit(size int64) int64 {
	l := int64(f.rate*FlightTarget.Seconds()) + 2*size
	return min(max(l, MinFlightPieces*size), MaxFlightPieces*size)
}

// PerPeer is the most pieces of size bytes one peer may hold in the flight:
// half of it, at least one. A peer that never acknowledges what it gets
// then holds at most half a node's flight until the caller gives up on its
// pieces, and the other peers are still served meanwhile.
func (f *Flight) PerPeer(size int64) int {
	return max(1, int(f.Limit(size)/size)/2)
}

// CanSend reports whether a piece of size bytes may leave now: nothing is in
// flight, or it fits under the limit.
func (f *Flight) CanSend(size int64) bool {
	return f.pieces == 0 || f.out+size <= f.Limit(size)
}

// Sent records a piece of size bytes handed to a peer.
func (f *Flight) Sent(size int64) {
	f.out += size
	f.pieces++
}

// Done records that a piece of size bytes sent earlier left the flight at
// now: acknowledged by the peer (delivered), or given up on. Only delivered
// bytes count toward the rate.
func (f *Flight) Done(now time.Time, size int64, delivered bool) {
	f.out -= size
	f.pieces--
	if delivered {
		f.acked += size
	}
	if !f.sampling {
		f.last, f.sampling = now, true
		return
	}
	if dt := now.Sub(f.last); dt >= flightSample {
		f.rate = 0.5*f.rate + 0.5*float64(f.acked)/dt.Seconds()
		f.acked, f.last = 0, now
	}
}

// Rate is the smoothed rate, in bytes per second, at which peers
// acknowledge what the node sends.
func (f *Flight) Rate() float64 { return f.rate }

// InFlight is the pieces and bytes sent and not yet done.
func (f *Flight) InFlight() (pieces int, bytes int64) { return f.pieces, f.out }
