package membership

import "sync/atomic"

// admitStats counts the bootstrap's admission decisions, for metrics.
type admitStats struct {
	accepted, refused atomic.Int64
	busy              atomic.Int64 // asked to come back later: the line was full
	roomWaits         atomic.Int64 // waited for a place at their address (Admit)
}

// count records one decision.
func (a *admitStats) count(accepted bool) {
	if accepted {
		a.accepted.Add(1)
	} else {
		a.refused.Add(1)
	}
}

// Admissions reports how many joins and renewals this bootstrap granted and
// refused since it started.
func (b *Bootstrap) Admissions() (accepted, refused int64) {
	return b.stats.accepted.Load(), b.stats.refused.Load()
}
