package picker

import (
	"slices"
	"testing"
	"time"
)

// TestPipelineDepth drives a Pipeline on a virtual clock: each case is a
// script of deliveries and samples, then the rate it should have measured
// and the depth it should give for 256 KiB pieces (each delivery is a
// piece), a 500 ms target, and
// depths 1 to 16.
func TestPipelineDepth(t *testing.T) {
	const (
		kib    = 1 << 10
		piece  = 256 * kib
		target = 500 * time.Millisecond
	)
	type step struct {
		deliver int64         // bytes delivered, then
		after   time.Duration // the clock moves on by this, then a sample
	}
	// steady is n seconds of perSec bytes a second, sampled each second.
	steady := func(n int, perSec int64) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{perSec, time.Second}
		}
		return s
	}
	cases := []struct {
		name      string
		script    []step
		rate      float64
		depth     int
		minD, max int
	}{
		{name: "unmeasured peer gets the minimum", depth: 1, minD: 1, max: 16},
		{name: "unmeasured peer, minimum 3", depth: 3, minD: 3, max: 16},
		{name: "the first sample only starts the clock", script: []step{{0, 0}}, depth: 1, minD: 1, max: 16},
		{
			// The smoothing starts from zero: half the first second's rate.
			name:   "one second at 1 MiB/s",
			script: []step{{0, 0}, {1024 * kib, time.Second}},
			rate:   512 * kib, depth: 2, minD: 1, max: 16,
		},
		{
			// Unmeasured, each piece delivered opens one more request.
			name:   "slow start: three pieces before the first interval",
			script: []step{{piece, 0}, {piece, 0}, {piece, 0}},
			depth:  4, minD: 1, max: 16,
		},
		{
			name:   "slow start is held to the maximum",
			script: slices.Repeat([]step{{piece, 0}}, 20),
			depth:  16, minD: 1, max: 16,
		},
		{
			name:   "a sample with nothing delivered opens nothing",
			script: []step{{0, 0}, {0, 0}},
			depth:  1, minD: 1, max: 16,
		},
		{
			// Converged to 1.25 MiB/s: 0.5 s of it is two and a half
			// pieces, two whole ones, plus one in transit.
			name:   "steady 1.25 MiB/s",
			script: append([]step{{0, 0}}, steady(40, 1280*kib)...),
			rate:   1280 * kib, depth: 3, minD: 1, max: 16,
		},
		{
			name:   "a fast peer is held to the maximum",
			script: append([]step{{0, 0}}, steady(40, 100*1024*kib)...),
			rate:   100 * 1024 * kib, depth: 16, minD: 1, max: 16,
		},
		{
			// Bytes delivered before the first sample count toward
			// the first interval: the session samples every link on
			// one tick, so they fall within one tick of it.
			name:   "bytes before the first sample count in the first interval",
			script: []step{{512 * kib, 0}, {512 * kib, time.Second}},
			rate:   512 * kib, depth: 2, minD: 1, max: 16,
		},
		{
			// Half the rate goes with every silent sample.
			name:   "a peer that stops sending is forgotten",
			script: append(append([]step{{0, 0}}, steady(40, 1280*kib)...), steady(2, 0)...),
			rate:   320 * kib, depth: 1, minD: 1, max: 16,
		},
		{
			// A second sample at the same instant is ignored, and the
			// bytes wait for the next one.
			name:   "a sample with no time passed changes nothing",
			script: []step{{0, 0}, {1024 * kib, 0}, {0, time.Second}},
			rate:   512 * kib, depth: 2, minD: 1, max: 16,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Pipeline
			now := time.Unix(1000, 0)
			for _, s := range c.script {
				if s.deliver > 0 {
					p.Delivered(s.deliver)
				}
				now = now.Add(s.after)
				p.Sample(now)
			}
			if d := p.Rate() - c.rate; d > 1e-6*c.rate+1e-9 || d < -1e-6*c.rate-1e-9 {
				t.Errorf("rate %.0f B/s, want %.0f", p.Rate(), c.rate)
			}
			if d := p.Depth(piece, target, c.minD, c.max); d != c.depth {
				t.Errorf("depth %d, want %d", d, c.depth)
			}
		})
	}
}
