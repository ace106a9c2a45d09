package membership

import (
	"time"

	"golang.org/x/time/rate"
)

// admitQueue decides when an admission attempt may start: at once, after a
// wait in line, or not now (the line is full: ask again later). It spaces
// the bootstrap's admissions at its total rate, so a class that joins at
// the same moment is served in turn instead of being turned away, while a
// flood of fresh peer IDs still costs the bootstrap no more than that rate.
// It does no I/O and is not safe for concurrent use: Bootstrap calls it
// under its mutex.
type admitQueue struct {
	total   *rate.Limiter
	maxWait time.Duration // the longest anyone waits in line
}

// admitTurn is an admitQueue decision.
type admitTurn struct {
	Wait       time.Duration // start after this long (0: at once)
	Busy       bool          // no place in line: ask again after RetryAfter
	RetryAfter time.Duration
}

// minRetryAfter is the shortest wait a busy reply asks for: about the
// per-peer admission pace, so a newcomer that honours it stays within it.
const minRetryAfter = 2 * time.Second

// roomWait is how long a newcomer that came over its address's budget of
// outsiders waits for a place on the bootstrap before it is asked to come
// back: no longer than it would wait to come back, and it keeps the
// connection it has, where coming back costs a new one.
const roomWait = minRetryAfter

func newAdmitQueue(r rate.Limit, burst int, maxWait time.Duration) *admitQueue {
	return &admitQueue{total: rate.NewLimiter(r, burst), maxWait: maxWait}
}

// take asks for a place in line at now.
func (q *admitQueue) take(now time.Time) admitTurn {
	res := q.total.ReserveN(now, 1)
	if !res.OK() {
		return admitTurn{Busy: true, RetryAfter: minRetryAfter}
	}
	d := res.DelayFrom(now)
	if d <= q.maxWait {
		return admitTurn{Wait: d}
	}
	res.CancelAt(now)
	// The line has room again once the wait is down to maxWait; come back
	// a little after that, so those who do find the line moving.
	return admitTurn{Busy: true, RetryAfter: max(d-q.maxWait/2, minRetryAfter)}
}
