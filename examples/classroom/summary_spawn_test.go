package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestSpawnResult: four leechers spawned 0, 10, 20 and 30 ms after the
// first, joined 100 ms apart, told to go ahead 2 s after the first spawn,
// and done 4, 5, 6 and 7 s after that; T* is 4 s.
func TestSpawnResult(t *testing.T) {
	p := classParams(4, 4*mib, 1*mib, uniform(0), uniform(0))
	p.Mode, p.GoAhead = "processes", true
	t0 := time.Date(2025, 9, 1, 9, 0, 0, 0, time.UTC)
	c := &class{p: p, leechers: make([]leecher, 4), launched: t0, cpu: 9, seedCPU: 1, seedPeer: 4}
	goAhead := t0.Add(2 * time.Second)
	for i := range c.leechers {
		spawn := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		l := leecher{done: true, verified: true, exited: true, spawned: spawn, cpu: float64(i + 1),
			peersDone: i + 1, peersStop: 2 * (i + 1), opened: 10 * (i + 1), linksDone: 3 * (i + 1)}
		l.at[phaseStarted] = spawn.Add(50 * time.Millisecond)
		l.at[phaseJoined] = spawn.Add(time.Duration(i+1) * 100 * time.Millisecond)
		l.at[phaseGoAhead] = goAhead
		l.at[phaseResolved] = goAhead.Add(10 * time.Millisecond)
		l.at[phaseFirst] = goAhead.Add(20 * time.Millisecond)
		l.at[phaseDone] = goAhead.Add(time.Duration(4+i) * time.Second)
		c.leechers[i] = l
	}
	r := c.result()
	check := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.001 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	s := r.FromSpawn
	check("makespan from spawn", s.Makespan, 9) // the last done, 2+7 s after the first spawn
	check("over T*", s.OverTStar, 9.0/4)
	check("median from spawn", s.Median, (6.99+7.98)/2) // done 5 and 6 s after the go-ahead at 2 s, less spawns at 10 and 20 ms
	check("launch", s.Launch, 0.03)
	check("joined all", r.JoinSeconds, 0.43) // the last spawned at 30 ms, joined 400 ms later
	want := map[string][3]float64{           // median, p90, max
		"started":     {0.05, 0.05, 0.05},
		"joined":      {0.25, 0.37, 0.4},
		"go-ahead":    {1.985, 1.997, 2},
		"manifest":    {1.995, 2.007, 2.01},
		"first piece": {2.005, 2.017, 2.02},
		"done":        {7.485, 8.673, 8.97},
	}
	if len(s.Phases) != len(want) {
		t.Errorf("phases %+v, want %d", s.Phases, len(want))
	}
	for _, ph := range s.Phases {
		w, ok := want[ph.Phase]
		if !ok || ph.Count != 4 {
			t.Errorf("phase %+v: unexpected, or not of 4", ph)
			continue
		}
		check(ph.Phase+" median", ph.Median, w[0])
		check(ph.Phase+" p90", ph.P90, w[1])
		check(ph.Phase+" max", ph.Max, w[2])
	}
	check("CPU a student", r.CPU.PerStudent, 10.0/4)
	check("CPU median", r.CPU.Median, 2.5)
	check("CPU max", r.CPU.Max, 4)
	check("seeder CPU", r.CPU.Seeder, 1)
	check("CPU per GiB", r.CPU.PerGiB, 9/(16.0/1024))
	if got := r.Connections; got != (connStats{DoneMedian: 2.5, DoneMax: 4, StopMedian: 5, StopMax: 8, Seeder: 4, OpenedMedian: 25, OpenedMax: 40, LinksMin: 3, LinksMedian: 7.5, LinksMax: 12}) {
		t.Errorf("connections %+v", got)
	}
	var b strings.Builder
	r.print(&b)
	for _, line := range []string{
		"from spawn:     makespan 9.00s = 2.25·T*  median 7.49s = 1.87·T*  (the leechers spawned over 0.03s)",
		"  joined           0.25s    0.37s    0.40s",
		"CPU a student:  2.50s (median 2.50s, max 4.00s; the seeder 1.00s); every node's CPU per GiB delivered 576.0s",
		"connections:    per leecher median 2.5 max 4 when done, 5 max 8 at the end; the seeder 4",
		"                opened and accepted per leecher in all: median 25 max 40",
		"                of them trading pieces when done (links): median 7.5 min 3 max 12",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("summary lacks %q:\n%s", line, b.String())
		}
	}

	// One leecher never done: phases count who reached them, and there
	// is no makespan.
	c.leechers[3].at[phaseDone], c.leechers[3].done = time.Time{}, false
	r = c.result()
	if r.FromSpawn.Makespan != 0 || r.FromSpawn.Phases[len(r.FromSpawn.Phases)-1].Count != 3 {
		t.Errorf("one not done: %+v", r.FromSpawn)
	}
}
