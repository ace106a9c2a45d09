package sim

// fillScratch shares the nodes' capacities among the transfers, the way
// competing TCP streams under token-bucket caps roughly do: no node sends
// beyond its upload or receives beyond its download, and upload one
// receiver cannot take goes to the sender's other transfers. The rates come
// from a few rounds of filling: each sender spreads what it has left over
// the transfers whose receivers have room, then each receiver over its cap
// scales its transfers down.
//
// The rounds run over flat copies of the nodes' caps and of the transfers
// (node i's are [lo[i], lo[i+1]) of to and rate), laid out sender by
// sender: they visit every transfer a few dozen times a step, and a class
// of 1000 has tens of thousands of them. Each pass also sums what every
// receiver gets, for the next pass, adding in the transfers' order. Per
// receiver it keeps what it gets after the scaling down, whether it has
// room for more, and what its transfers are scaled by.
type fillScratch struct {
	up, down       []float64
	lo, to         []int32
	rate           []float64
	scaled, factor []float64
	room           []float64 // 1: room for more, 0: none
}

// fillRounds is how many rounds share spends sharing the capacities.
const fillRounds = 8

// share sets every transfer's rate from up, down, lo and to, and filled
// (one per node) to what each receives.
func (x *fillScratch) share(filled []float64) {
	nn := len(x.up)
	up, down, lo, to, rate := x.up, x.down, x.lo, x.to, x.rate
	room, factor, scaled := x.room, x.factor, x.scaled
	clear(rate)
	clear(scaled)
	for round := 0; round < fillRounds; round++ {
		for t := range room {
			room[t] = 0
			if scaled[t] < down[t]*(1-1e-9) {
				room[t] = 1
			}
		}
		clear(filled)
		changed := false
		for i := 0; i < nn; i++ {
			a, b := lo[i], lo[i+1]
			if a == b {
				continue
			}
			spare, open := up[i], 0.0
			for k := a; k < b; k++ {
				spare -= rate[k]
				open += room[to[k]]
			}
			if spare <= up[i]*1e-3 || open == 0 {
				for k := a; k < b; k++ {
					filled[to[k]] += rate[k]
				}
				continue
			}
			// Without a branch, which would guess wrong half the time:
			// a receiver without room gets each·0, which leaves its
			// rate (never negative) exactly as it was.
			each := spare / open
			changed = true
			for k := a; k < b; k++ {
				t := to[k]
				rate[k] += each * room[t]
				filled[t] += rate[k]
			}
		}
		// Receivers over their download scale their transfers down.
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
	for i := range filled {
		filled[i] = min(filled[i], down[i])
	}
}
