package picker

import "time"

// Pipeline sizes the requests kept open to one peer to what that peer
// delivers, bandwidth times delay: enough that the peer never idles waiting
// for our next request, few enough that pieces do not sit for long in a slow
// peer's queue while faster peers could have sent them. The caller reports
// delivered bytes and samples at a steady interval; Pipeline keeps an
// exponentially weighted rate. It reads no clock: time is passed in.
type Pipeline struct {
	rate    float64 // bytes per second, smoothed
	bytes   int64   // delivered since the last sample
	last    time.Time
	sampled bool
}

// Delivered records n bytes of pieces received from the peer.
func (p *Pipeline) Delivered(n int64) { p.bytes += n }

// Sample folds the bytes delivered since the previous sample into the rate.
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
	p.bytes, p.last = 0, now
}

// Rate is the smoothed delivery rate in bytes per second.
func (p *Pipeline) Rate() float64 { return p.rate }

// Depth is how many requests to keep open: the pieces the peer delivers in
// target, plus one in transit, at least min and at most max. A peer not yet
// measured gets min.
func (p *Pipeline) Depth(pieceSize int64, target time.Duration, min, max int) int {
	d := int(p.rate*target.Seconds()/float64(pieceSize)) + 1
	if d < min {
		d = min
	}
	if d > max {
		d = max
	}
	return d
}
