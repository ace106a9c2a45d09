package p2pshare

import (
	"testing"
	"time"
)

// TestJoinBurstHoldsStoresBack: a member joining alone is listed at once;
// while a class joins together the stores wait until the joins have
// stopped for listQuiet, and never longer than listMaxHold.
func TestJoinBurstHoldsStoresBack(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	var j joinBurst
	j.admitted(t0)
	if h := j.hold(t0); h != 0 {
		t.Fatalf("one member joined: stores held %v, want none", h)
	}

	// burstJoins members within a second: a burst, held until listQuiet
	// after the last of them.
	var last time.Time
	for i := range burstJoins {
		last = t0.Add(10*time.Second + time.Duration(i)*100*time.Millisecond)
		j.admitted(last)
		if h := j.hold(last); i < burstJoins-1 && h != 0 {
			t.Fatalf("%d members joined within a second: held %v, want none", i+1, h)
		}
	}
	if h := j.hold(last); h != listQuiet {
		t.Fatalf("right after the %dth of a burst: held %v, want %v", burstJoins, h, listQuiet)
	}
	// Late joiners of the same class keep the hold on, even a few at a time.
	last = last.Add(2 * time.Second)
	j.admitted(last)
	if h := j.hold(last.Add(time.Second)); h != listQuiet-time.Second {
		t.Fatalf("a second after a late joiner: held %v, want %v", h, listQuiet-time.Second)
	}
	if h := j.hold(last.Add(listQuiet)); h != 0 {
		t.Fatalf("%v after the last join: held %v, want none", listQuiet, h)
	}

	// Long after, one member joins alone again: listed at once.
	lone := last.Add(time.Minute)
	j.admitted(lone)
	if h := j.hold(lone); h != 0 {
		t.Fatalf("a lone joiner after the burst: held %v, want none", h)
	}

	// A class that never stops joining is held listMaxHold at most.
	var k joinBurst
	start := t0.Add(time.Hour)
	var now time.Time
	for i := 0; ; i++ {
		now = start.Add(time.Duration(i) * 100 * time.Millisecond)
		k.admitted(now)
		if now.Sub(start) > listMaxHold+time.Second {
			break
		}
	}
	if h := k.hold(now); h != 0 {
		t.Fatalf("joins every 100 ms for %v: held %v, want none after %v", now.Sub(start), h, listMaxHold)
	}
}
