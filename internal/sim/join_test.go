package sim

import (
	"slices"
	"testing"
	"time"
)

// TestJoinsGateTrading: with a class that starts together, each student is
// admitted in turn and trades only from its join time on, so it finishes no
// sooner than its join time plus what its download cap allows; the join
// times follow the admission rate; and everyone still finishes.
func TestJoinsGateTrading(t *testing.T) {
	c := s2()
	c.FileSize, c.Step = 16*mib, 10*time.Millisecond
	c.JoinRate, c.JoinLatency = 10, 500*time.Millisecond // 30 students over 3 s
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	joined := slices.Clone(r.Joined)
	slices.Sort(joined)
	for k, at := range joined {
		want := c.JoinLatency + time.Duration(float64(k+1)/c.JoinRate*float64(time.Second))
		if at != want {
			t.Fatalf("the %d-th to join joined at %v, want %v", k+1, at, want)
		}
	}
	fetch := time.Duration(float64(c.FileSize) / c.Down[0] * float64(time.Second))
	for i, d := range r.Done {
		if d < r.Joined[i]+fetch {
			t.Errorf("student %d joined at %v and finished at %v, sooner than its download cap allows (%v)", i, r.Joined[i], d, fetch)
		}
	}
	c.JoinRate = 0
	all, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Makespan <= all.Makespan {
		t.Errorf("a class joining over 3 s finished at %v, no later than one there from the start (%v)", r.Makespan, all.Makespan)
	}
	t.Logf("from the class's start: %v joining over %v, %v all there at once (T* %v)", r.Makespan, joined[len(joined)-1], all.Makespan, r.TStar)
}
