package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveShare is share as it was first written, branching on whether each
// transfer's receiver has room. share must give the very same rates, bit
// for bit.
func naiveShare(up, down []float64, lo, to []int32) (rate, filled []float64) {
	nn := len(up)
	rate = make([]float64, len(to))
	filled, scaled, factor := make([]float64, nn), make([]float64, nn), make([]float64, nn)
	room := make([]bool, nn)
	for round := 0; round < fillRounds; round++ {
		for t := range room {
			room[t] = scaled[t] < down[t]*(1-1e-9)
		}
		clear(filled)
		changed := false
		for i := 0; i < nn; i++ {
			a, b := lo[i], lo[i+1]
			spare, open := up[i], 0
			for k := a; k < b; k++ {
				spare -= rate[k]
				if room[to[k]] {
					open++
				}
			}
			if spare <= up[i]*1e-3 || open == 0 {
				for k := a; k < b; k++ {
					filled[to[k]] += rate[k]
				}
				continue
			}
			each := spare / float64(open)
			for k := a; k < b; k++ {
				if room[to[k]] {
					rate[k] += each
					changed = true
				}
				filled[to[k]] += rate[k]
			}
		}
		for t := range factor {
			factor[t] = 1
			if filled[t] > down[t] {
				factor[t] = down[t] / filled[t]
			}
		}
		clear(scaled)
		for k, t := range to {
			rate[k] *= factor[t]
			scaled[t] += rate[k]
		}
		if !changed {
			break
		}
	}
	for t := range filled {
		filled[t] = min(filled[t], down[t])
	}
	return rate, filled
}

// TestShareAgainstNaive lays out random classes — some nodes sending to
// dozens of receivers, receivers fed by dozens of senders, caps that differ
// by orders of magnitude, seeders that receive nothing — and checks share
// against naiveShare to the last bit.
func TestShareAgainstNaive(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 99))
		nn := 2 + rng.IntN(300)
		x := fillScratch{up: make([]float64, nn), down: make([]float64, nn), lo: make([]int32, nn+1),
			scaled: make([]float64, nn), factor: make([]float64, nn), room: make([]float64, nn)}
		for i := range nn {
			x.up[i] = 1e5 * float64(1+rng.IntN(1000))
			x.down[i] = 1e5 * float64(1+rng.IntN(1000))
			if rng.IntN(10) == 0 {
				x.down[i] = 0 // a seeder
			}
			x.lo[i] = int32(len(x.to))
			for range rng.IntN(60) {
				x.to = append(x.to, int32(rng.IntN(nn)))
			}
		}
		x.lo[nn] = int32(len(x.to))
		x.rate = make([]float64, len(x.to))
		filled := make([]float64, nn)
		x.share(filled)
		wantRate, wantFilled := naiveShare(x.up, x.down, x.lo, x.to)
		if !slices.Equal(x.rate, wantRate) || !slices.Equal(filled, wantFilled) {
			t.Fatalf("seed %d, %d nodes, %d transfers: share differs from naiveShare", seed, nn, len(x.to))
		}
	}
}
