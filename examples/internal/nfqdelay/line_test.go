package nfqdelay

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestLine spells out what a line of packets held 10 ms, with a 1 ms
// window, releases when: ms(x) is x milliseconds after t0.
func TestLine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(x float64) time.Time { return t0.Add(time.Duration(x * float64(time.Millisecond))) }
	type step struct {
		arrive   []uint32  // these IDs arrive at `at`
		release  bool      // or: Release at `at`
		at       time.Time //
		upTo     uint32    // want, if release
		n        int
		late     time.Duration
		wake     time.Time // want Wake after the step; zero: empty
		wantLast uint32
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one packet, released at its due time", []step{
			{arrive: []uint32{7}, at: ms(0), wake: ms(11), wantLast: 7},
			{release: true, at: ms(9.999), n: 0, wake: ms(11), wantLast: 7}, // not yet due
			{release: true, at: ms(10), upTo: 7, n: 1},
		}},
		{"those within the window leave together", []step{
			{arrive: []uint32{1, 2}, at: ms(0), wake: ms(11), wantLast: 2},
			{arrive: []uint32{3}, at: ms(0.5), wake: ms(11), wantLast: 3},
			{arrive: []uint32{4}, at: ms(1), wake: ms(11), wantLast: 4},
			{arrive: []uint32{5}, at: ms(1.5), wake: ms(11), wantLast: 5},
			// At the wake, 1 ms late for the first: 1 to 4 are due, 5 is not.
			{release: true, at: ms(11), upTo: 4, n: 4, late: time.Millisecond, wake: ms(12.5), wantLast: 5},
			{release: true, at: ms(12.5), upTo: 5, n: 1, late: time.Millisecond},
		}},
		{"a late wake releases everything due, in order", []step{
			{arrive: []uint32{10}, at: ms(0), wake: ms(11), wantLast: 10},
			{arrive: []uint32{11, 12}, at: ms(5), wake: ms(11), wantLast: 12},
			{arrive: []uint32{13}, at: ms(20), wake: ms(11), wantLast: 13},
			{release: true, at: ms(25), upTo: 12, n: 3, late: 15 * time.Millisecond, wake: ms(31), wantLast: 13},
		}},
		{"IDs that wrap", []step{
			{arrive: []uint32{1<<32 - 1, 0, 1}, at: ms(0), wake: ms(11), wantLast: 1},
			{release: true, at: ms(10), upTo: 1, n: 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLine(10*time.Millisecond, time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				if s.release {
					upTo, n, late := l.Release(s.at)
					if n != s.n || (n > 0 && upTo != s.upTo) || late != s.late {
						t.Errorf("step %d: Release = up to %d, %d packets, %v late; want up to %d, %d, %v late", i, upTo, n, late, s.upTo, s.n, s.late)
					}
				} else {
					for _, id := range s.arrive {
						l.Arrive(id, s.at)
					}
				}
				wake, ok := l.Wake()
				if ok != !s.wake.IsZero() || !wake.Equal(s.wake) {
					t.Errorf("step %d: Wake = %v, %v; want %v", i, wake.Sub(t0), ok, s.wake.Sub(t0))
				}
				last, ok := l.Last()
				if ok != (l.Len() > 0) || last != s.wantLast {
					t.Errorf("step %d: Last = %d, %v with %d held; want %d", i, last, ok, l.Len(), s.wantLast)
				}
			}
		})
	}
}

// TestLineRandom runs a line the way a releaser does, on a virtual clock
// with wakes that come late at random, against the obvious rule: every
// packet leaves once, in order, no sooner than its hold.
func TestLineRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const hold, window = 10 * time.Millisecond, 500 * time.Microsecond
	for run := range 50 {
		l, err := NewLine(hold, window)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		arrived := map[uint32]time.Time{}
		next := uint32(rng.Uint32()) // the kernel's sequence, wrapping
		var released uint32
		releasedAny := false
		for range 2000 {
			wake, armed := l.Wake()
			step := time.Duration(rng.ExpFloat64() * float64(300*time.Microsecond))
			if armed && !now.Add(step).Before(wake) {
				// The timer fires, up to 2 ms late.
				now = wake.Add(time.Duration(rng.IntN(2000)) * time.Microsecond)
				upTo, n, _ := l.Release(now)
				if n == 0 {
					t.Fatalf("run %d: a wake at its time released nothing", run)
				}
				for k := range n {
					id := upTo - uint32(n-1-k)
					at, ok := arrived[id]
					if !ok {
						t.Fatalf("run %d: released %d, which is not held", run, id)
					}
					if releasedAny && id != released+1 {
						t.Fatalf("run %d: released %d after %d", run, id, released)
					}
					if d := now.Sub(at); d < hold {
						t.Fatalf("run %d: packet %d held %v, less than %v", run, id, d, hold)
					}
					delete(arrived, id)
					released, releasedAny = id, true
				}
				continue
			}
			now = now.Add(step)
			for range rng.IntN(4) + 1 {
				l.Arrive(next, now)
				arrived[next] = now
				next++
			}
		}
		if l.Len() != len(arrived) {
			t.Fatalf("run %d: the line holds %d, %d not released", run, l.Len(), len(arrived))
		}
	}
}

func TestNewLine(t *testing.T) {
	tests := []struct {
		hold, window time.Duration
		err          string
	}{
		{10 * time.Millisecond, 0, ""},
		{10 * time.Millisecond, 10 * time.Millisecond, ""},
		{0, 0, "nfqdelay: hold 0s is not positive"},
		{time.Millisecond, -1, "nfqdelay: window -1ns: want 0 to the hold, 1ms"},
		{time.Millisecond, 2 * time.Millisecond, "nfqdelay: window 2ms: want 0 to the hold, 1ms"},
	}
	for _, tt := range tests {
		_, err := NewLine(tt.hold, tt.window)
		if got := errString(err); got != tt.err {
			t.Errorf("NewLine(%v, %v) = %q, want %q", tt.hold, tt.window, got, tt.err)
		}
	}
	if got := DefaultWindow(10 * time.Millisecond); got != 500*time.Microsecond {
		t.Errorf("DefaultWindow(10ms) = %v", got)
	}
	if _, err := (Config{}).withDefaults(); err == nil || !strings.Contains(err.Error(), "hold 0s") {
		t.Errorf("a config without a hold: %v", err)
	}
	c, err := (Config{Hold: 10 * time.Millisecond}).withDefaults()
	if err != nil || c.Window != 500*time.Microsecond || c.MaxLen != DefaultMaxLen {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

func TestMaxLen(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name string
		rate int64
		hold time.Duration
		want uint32
	}{
		{"uncapped", 0, 10 * time.Millisecond, UncappedMaxLen},
		{"S2's 8 MiB/s for 10 ms and a starved 250 ms: twice 1454 frames, and one", 8 * mib, 10 * time.Millisecond, 2909},
		{"1 MiB/s: 182 frames, the default is more", 1 * mib, 10 * time.Millisecond, DefaultMaxLen},
		{"1 GiB/s is bounded", 1024 * mib, 10 * time.Millisecond, UncappedMaxLen},
		{"a huge cap is bounded", 1 << 40, time.Second, UncappedMaxLen},
	}
	for _, tt := range tests {
		if got := MaxLen(tt.rate, tt.hold); got != tt.want {
			t.Errorf("%s: MaxLen(%d, %v) = %d, want %d", tt.name, tt.rate, tt.hold, got, tt.want)
		}
	}
}

func TestStatsAdd(t *testing.T) {
	s := Stats{Packets: 1, Verdicts: 1, MaxHeld: 5, MaxLate: 0.002, Dropped: 1}
	s.Add(Stats{Packets: 2, Verdicts: 3, MaxHeld: 4, MaxLate: 0.003, Undelivered: 2})
	if want := (Stats{Packets: 3, Verdicts: 4, MaxHeld: 5, MaxLate: 0.003, Dropped: 1, Undelivered: 2}); s != want {
		t.Errorf("Add: %+v, want %+v", s, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
