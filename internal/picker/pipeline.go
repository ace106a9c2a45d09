package picker

import "time"

// Pipeline sizes the requests kept open to one peer to what that peer
// delivers, bandwidth times delay: enough that the peer never idles waiting
// for our next request, few enough that pieces do not sit for long in a slow
// peer's queue while faster peers could have sent them. The caller reports
// each delivered piece and samples at a steady interval; Pipeline keeps an
// exponentially weighted rate. It reads no clock: time is passed in.
//
// Until the first interval is measured the pipeline starts slow and grows
// fast, as a TCP sender does: each piece delivered opens one more request,
// so the depth doubles every round trip until the peer's rate is known. A
// pipeline held at its minimum until then would make a fetch from one fast
// peer wait a round trip per piece for its first second: on loopback, a
// whole 256 MiB share at a quarter of the link's rate.
type Pipeline struct {
	rate     float64 // bytes per second, smoothed
	bytes    int64   // delivered since the last sample
	early    int     // pieces delivered before the rate was measured
	last     time.Time
	sampled  bool // the clock was started
	measured bool // a whole interval was measured
}

// Delivered records one piece of n bytes received from the peer.
func (p *Pipeline) Delivered(n int64) {
	p.bytes += n
	if !p.measured {
		p.early++
	}
}

// Sample folds the bytes delivered since the previous sample into the rate.
// The first sample starts the clock; each interval measured after it moves
// the rate halfway to what the interval delivered.
func (p *Pipeline) Sample(now time.Time) {
	if !p.sampled {
		p.last, p.sampled = now, true
		return
	}
	dt := now.Sub(p.last).Seconds()
	if dt <= 0 {
		return
	}
	cur := float64(p.bytes) / dt
	p.rate = 0.5*p.rate + 0.5*cur
	p.measured = true
	p.bytes, p.last = 0, now
}

// Rate is the smoothed delivery rate in bytes per second.
func (p *Pipeline) Rate() float64 { return p.rate }

// Depth is how many requests to keep open: the pieces the peer delivers in
// target, plus one in transit, at least min and at most max. A peer not yet
// measured gets min plus one for every piece it delivered (slow start).
func (p *Pipeline) Depth(pieceSize int64, target time.Duration, min, max int) int {
	var d int
	if p.measured {
		d = int(p.rate*target.Seconds()/float64(pieceSize)) + 1
	} else {
		d = min + p.early
	}
	if d < min {
		d = min
	}
	if d > max {
		d = max
	}
	return d
}
