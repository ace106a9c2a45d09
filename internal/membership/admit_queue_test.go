package membership

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	lphost "github.com/libp2p/go-libp2p/core/host"
)

// TestAdmitQueue: a class arriving at once is spaced at the total rate;
// those who would wait longer than maxWait are told when to come back, and
// their cancelled places go to those who come later.
func TestAdmitQueue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := newAdmitQueue(100, 10, time.Second) // 10 at once, then one per 10 ms, a second's line
	var waits []time.Duration
	busy := 0
	var retry time.Duration
	for range 200 {
		turn := q.take(t0)
		if turn.Busy {
			busy++
			retry = turn.RetryAfter
			continue
		}
		waits = append(waits, turn.Wait)
	}
	// 10 from the burst plus 100 in a second's line.
	if len(waits) != 110 || busy != 90 {
		t.Fatalf("%d placed and %d busy, want 110 and 90", len(waits), busy)
	}
	for i, w := range waits {
		want := time.Duration(max(i-9, 0)) * 10 * time.Millisecond
		if w != want {
			t.Fatalf("place %d waits %v, want %v", i, w, want)
		}
	}
	if retry < minRetryAfter {
		t.Fatalf("busy retry-after %v, want at least %v", retry, minRetryAfter)
	}
	// Coming back when told, the line has room again.
	if turn := q.take(t0.Add(retry)); turn.Busy || turn.Wait > time.Second {
		t.Fatalf("after retry-after %v: %+v, want a place within a second", retry, turn)
	}
}

// TestJoinStormQueued: a class larger than the bootstrap's admission line
// joins at the same moment. Every student is admitted — those beyond the
// line are told to come back and do — and none is refused.
func TestJoinStormQueued(t *testing.T) {
	tn := newTestNet(t, func(c *BootstrapConfig) {
		c.PeerRate, c.PeerBurst = 0, 0 // the defaults: a student's pace
		c.TotalRate, c.QueueWait = 20, time.Second
	})
	const n = 60
	inv := tn.invite(InviteOptions{Uses: n})
	hosts := make([]lphost.Host, n)
	for i := range hosts {
		hosts[i] = plainHost(t, newKey(t))
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A bound, not a target: 60 handshakes at once under the race
			// detector on a loaded machine take a while.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			<-start
			_, errs[i] = Join(ctx, hosts[i], inv, JoinRequest{Name: fmt.Sprintf("s%03d", i)})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("student %d: %v", i, err)
		}
	}
	if got := len(tn.boot.Registry().Members()); got != n+1 {
		t.Errorf("registry holds %d members, want %d and the teacher", got, n)
	}
	if busy := tn.boot.stats.busy.Load(); busy == 0 {
		t.Errorf("no newcomer was asked to come back: the line never filled, so this test did not test it")
	}
	if _, refused := tn.boot.Admissions(); refused != 0 {
		t.Errorf("%d admissions refused", refused)
	}
}
