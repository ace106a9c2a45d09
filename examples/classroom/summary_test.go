package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{name: "one", sorted: []float64{3}, q: 0.9, want: 3},
		{name: "median odd", sorted: []float64{1, 2, 9}, q: 0.5, want: 2},
		{name: "median even", sorted: []float64{1, 2, 4, 9}, q: 0.5, want: 3},
		{name: "p90 of ten", sorted: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, q: 0.9, want: 9.1},
		{name: "p90 of thirty", sorted: seq(30), q: 0.9, want: 27.1},
		{name: "max", sorted: []float64{1, 2}, q: 1, want: 2},
		{name: "min", sorted: []float64{1, 2}, q: 0, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.q); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

// seq is 1, 2, …, n.
func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

// classParams are the params of n leechers with one cap each, as resolve
// makes them.
func classParams(n int, size, seedUp int64, up, down rates) params {
	p := params{Leechers: n, FileBytes: size, SeedUp: seedUp, Up: up.counted(n), Down: down.counted(n), Scale: 1}
	var err error
	if p.ups, err = up.perLeecher(n); err != nil {
		panic(err)
	}
	if p.downs, err = down.perLeecher(n); err != nil {
		panic(err)
	}
	return p
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name                                string
		p                                   params
		wantSeed, wantDown, wantSwarm, want float64
		wantClientServer                    float64
	}{
		// S2, the defaults: 30·128/(8+30·4) = 30 s beats F/U_s = F/D = 16 s.
		{name: "S2", p: classParams(30, 128*mib, 8*mib, uniform(4*mib), uniform(8*mib)),
			wantSeed: 16, wantDown: 16, wantSwarm: 30, want: 30, wantClientServer: 480},
		// S3: the slow downloads bound it, 128/2 = 64 s.
		{name: "S3", p: classParams(30, 128*mib, 16*mib, uniform(2*mib), uniform(2*mib)),
			wantSeed: 8, wantDown: 64, wantSwarm: 30 * 128.0 / 76, want: 64, wantClientServer: 240},
		// S4: 40·128/(8+20·1+20·6) = 5120/148 = 34.6 s; with the mean
		// upload for all it would be the same, so the order matters not.
		{name: "S4", p: classParams(40, 128*mib, 8*mib, rates{{Count: 20, Rate: 1 * mib}, {Count: 20, Rate: 6 * mib}}, uniform(8*mib)),
			wantSeed: 16, wantDown: 16, wantSwarm: 5120.0 / 148, want: 34.595, wantClientServer: 640},
		{name: "S4 interleaved", p: classParams(4, 128*mib, 8*mib, rates{{Count: 1, Rate: 1 * mib}, {Count: 2, Rate: 6 * mib}, {Count: 1, Rate: 1 * mib}}, uniform(8*mib)),
			wantSeed: 16, wantDown: 16, wantSwarm: 512.0 / 22, want: 512.0 / 22, wantClientServer: 64},
		// quiz: 50·2/(8+50·4) = 0.48 s.
		{name: "quiz", p: classParams(50, 2*mib, 8*mib, uniform(4*mib), uniform(8*mib)),
			wantSeed: 0.25, wantDown: 0.25, wantSwarm: 100.0 / 208, want: 100.0 / 208, wantClientServer: 12.5},
		{name: "slowest download", p: classParams(3, 8*mib, 8*mib, uniform(8*mib), rates{{Count: 2, Rate: 8 * mib}, {Count: 1, Rate: 2 * mib}}),
			wantSeed: 1, wantDown: 4, wantSwarm: 24.0 / 32, want: 4, wantClientServer: 3},
		{name: "an uncapped download is not the slowest", p: classParams(2, 8*mib, 8*mib, uniform(8*mib), rates{{Count: 1, Rate: 0}, {Count: 1, Rate: 4 * mib}}),
			wantSeed: 1, wantDown: 2, wantSwarm: 16.0 / 24, want: 2, wantClientServer: 2},
		{name: "slow seeder", p: classParams(2, 8*mib, 1*mib, uniform(8*mib), uniform(8*mib)),
			wantSeed: 8, wantDown: 1, wantSwarm: 16.0 / 17, want: 8, wantClientServer: 16},
		{name: "one uncapped upload", p: classParams(2, 8*mib, 8*mib, rates{{Count: 1, Rate: 0}, {Count: 1, Rate: 1 * mib}}, uniform(8*mib)),
			wantSeed: 1, wantDown: 1, want: 1, wantClientServer: 2},
		{name: "uncapped leechers", p: classParams(4, 8*mib, 8*mib, uniform(0), uniform(0)),
			wantSeed: 1, want: 1, wantClientServer: 4},
		{name: "nothing capped", p: classParams(4, 8*mib, 0, uniform(0), uniform(0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := boundsOf(tt.p)
			check := func(what string, got, want float64) {
				t.Helper()
				if math.Abs(got-want) > 0.001 {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("F/U_s", b.Seed, tt.wantSeed)
			check("F/D_min", b.Down, tt.wantDown)
			check("N·F/(U_s+ΣU_i)", b.Swarm, tt.wantSwarm)
			check("T*", b.TStar, tt.want)
			check("N·F/U_s", b.ClientServer, tt.wantClientServer)
		})
	}
}

// TestScenarioBounds checks the named scenarios against the T* the issue
// gives for each, and that -scale stretches T* by its inverse.
func TestScenarioBounds(t *testing.T) {
	want := map[string]float64{"s2": 30, "s3": 64, "s4": 34.6, "quiz": 0.48}
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			for _, scale := range []float64{1, 0.5, 0.25} {
				p, err := s.params(scale)
				if err != nil {
					t.Fatal(err)
				}
				got := boundsOf(p).TStar
				if w := want[s.name] / scale; math.Abs(got-w) > 0.05/scale {
					t.Errorf("scale %v: T* = %.3f s, want %.3g s", scale, got, w)
				}
			}
		})
	}
}

func TestResult(t *testing.T) {
	// Four leechers of S4's kind, done at 2, 3, 4 and 5 s; T* is 64/22 s.
	p := classParams(4, 128*mib, 8*mib, rates{{Count: 2, Rate: 1 * mib}, {Count: 2, Rate: 6 * mib}}, uniform(8*mib))
	c := &class{p: p, leechers: make([]leecher, 4), seedUp: 140 * mib, cpu: 2.5}
	for i := range c.leechers {
		at := time.Duration(i+2) * time.Second
		c.leechers[i] = leecher{done: true, verified: true, doneAt: at, downloaded: 128 * mib, uploaded: 100 * mib}
		c.makespan = at
	}
	c.samples = []sample{{at: time.Second, bytes: 256 * mib}, {at: 5 * time.Second, bytes: 512 * mib}}
	r := c.result()
	tstar := 4 * 128.0 / 22
	check := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.001 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("T*", r.TStar, tstar)
	check("min", r.Min, 2)
	check("median", r.Median, 3.5)
	check("p90", r.P90, 4.7)
	check("max", r.Max, 5)
	check("makespan", r.Makespan, 5)
	check("makespan/T*", r.OverTStar, 5/tstar)
	check("median/T*", r.MedianOverStar, 3.5/tstar)
	check("client-server", r.ClientServer, 64)
	check("seeder up/F", r.SeederUpload, 140.0/128)
	check("seeder up/F from the leechers", r.SeederUploadEstimate, 4*28.0/128)
	check("CPU per GB", r.CPUPerGB, 2.5/(4*128*mib/1e9))
	if r.Completed != 4 || r.Verified != 4 || r.failed() {
		t.Errorf("completed %d, verified %d, failed %v; want 4, 4, false", r.Completed, r.Verified, r.failed())
	}
	if r.Peers[0].Up != 1*mib || r.Peers[3].Up != 6*mib || r.Peers[3].Down != 8*mib {
		t.Errorf("peers' caps %+v, want 1, 1, 6, 6 MiB/s up and 8 down", r.Peers)
	}
	if len(r.Timeline) != 2 || r.Timeline[1] != (timePoint{Seconds: 5, Bytes: 512 * mib}) {
		t.Errorf("timeline %+v", r.Timeline)
	}

	// One leecher short: no makespan, nor ratios built on it.
	c.leechers[3] = leecher{exited: true}
	r = c.result()
	if r.Completed != 3 || r.Makespan != 0 || r.OverTStar != 0 || r.SeederUploadEstimate != 0 || !r.failed() {
		t.Errorf("with one failed: completed %d, makespan %v, makespan/T* %v, estimate %v, failed %v",
			r.Completed, r.Makespan, r.OverTStar, r.SeederUploadEstimate, r.failed())
	}
	check("CPU per GB of three", r.CPUPerGB, 2.5/(3*128*mib/1e9))
}

// TestPrintMachineBusy: the summary gives the machine's busy share where
// it is known and, from cpuBound up, says the CPU may have set the pace.
func TestPrintMachineBusy(t *testing.T) {
	p := classParams(4, 128*mib, 8*mib, rates{{Count: 4, Rate: 4 * mib}}, uniform(8*mib))
	p.Scale = 0.5 // the advice halves it
	for _, c := range []struct {
		name      string
		busy      *float64
		line, cpu bool
	}{
		{"unknown", nil, false, false},
		{"idle enough", ptr(0.62), true, false},
		{"saturated", ptr(0.97), true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := &class{p: p, leechers: make([]leecher, 4), busy: c.busy, cores: 2}
			var b strings.Builder
			cl.result().print(&b)
			out := b.String()
			if got := strings.Contains(out, "machine CPU:"); got != c.line {
				t.Errorf("machine CPU line shown %v, want %v:\n%s", got, c.line, out)
			}
			if got := strings.Contains(out, "the CPU, not the caps, may have set the pace (-scale 0.25 halves every cap)"); got != c.cpu {
				t.Errorf("CPU-bound warning shown %v, want %v:\n%s", got, c.cpu, out)
			}
			if c.busy != nil && !strings.Contains(out, fmt.Sprintf("%.0f%% of 2 cores", 100**c.busy)) {
				t.Errorf("summary lacks the busy share %v:\n%s", *c.busy, out)
			}
		})
	}
}

func ptr(x float64) *float64 { return &x }
