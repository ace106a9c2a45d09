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

// overAddress is a bootstrap whose address budget is two, the two places
// of 127.0.0.1 held by newcomers that have not asked (early), and a third
// newcomer (late) connected over them: a class rushing in from behind one
// NAT address, in small.
type overAddress struct {
	tn    *testNet
	inv   Invite
	early []lphost.Host
	late  lphost.Host
}

func newOverAddress(t *testing.T) *overAddress {
	t.Helper()
	o := &overAddress{tn: &testNet{t: t, dir: t.TempDir(), clock: &clock{}, node: func(c *Config) {
		c.OutsidersPerIP = 2
		c.OutsiderDeadline = time.Minute // the tests' steps are not a race against it
	}}}
	o.tn.start(nil)
	o.inv = o.tn.invite(InviteOptions{Uses: 1})
	o.early = []lphost.Host{plainHost(t, newKey(t)), plainHost(t, newKey(t))}
	for _, h := range o.early {
		connect(t, h, o.tn.bn)
	}
	poll(t, "the early newcomers hold their address's places", o.budget(func(b *budget) bool { return b.ips["127.0.0.1"] == 2 }))
	o.late = plainHost(t, newKey(t))
	connect(t, o.late, o.tn.bn)
	poll(t, "the late newcomer is over its address's budget", o.budget(func(b *budget) bool {
		x, ok := b.outsiders[o.late.ID()]
		return ok && len(x.over) == 1
	}))
	return o
}

// budget is a condition on the bootstrap's outsiders' budget, for poll.
func (o *overAddress) budget(f func(b *budget) bool) func() bool {
	return func() bool {
		o.tn.bn.m.mu.Lock()
		defer o.tn.bn.m.mu.Unlock()
		return f(&o.tn.bn.m.budget)
	}
}

// TestNewcomerOverItsAddressAsksInTurn: a newcomer that connected while its
// address's places were all held by other newcomers asks for admission
// once they have gone. It is admitted on that connection, not sent away to
// make a new one.
func TestNewcomerOverItsAddressAsksInTurn(t *testing.T) {
	o := newOverAddress(t)
	for _, h := range o.early {
		_ = h.Network().ClosePeer(o.tn.bn.id)
	}
	poll(t, "the early newcomers' places are free", o.budget(func(b *budget) bool { return b.ips["127.0.0.1"] == 0 }))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := Join(ctx, o.late, o.inv, JoinRequest{Name: "late"}); err != nil {
		t.Fatal(err)
	}
	if busy := o.tn.boot.stats.busy.Load(); busy != 0 {
		t.Errorf("the late newcomer was asked to come back %d times, though its address had room when it asked", busy)
	}
}

// TestNewcomerOverItsAddressWaitsForRoom: a newcomer that asks for
// admission while its address's places are all held by other newcomers
// that have not asked yet waits on the bootstrap, on its connection, and is
// admitted once one of them goes, without being sent away.
func TestNewcomerOverItsAddressWaitsForRoom(t *testing.T) {
	o := newOverAddress(t)
	joined := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		_, err := Join(ctx, o.late, o.inv, JoinRequest{Name: "late"})
		joined <- err
	}()
	poll(t, "the late newcomer waits for a place", func() bool { return o.tn.boot.stats.roomWaits.Load() == 1 })
	_ = o.early[0].Network().ClosePeer(o.tn.bn.id) // one place comes free
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	if busy := o.tn.boot.stats.busy.Load(); busy != 0 {
		t.Errorf("the late newcomer was asked to come back %d times, though a place came free while it waited", busy)
	}
}
