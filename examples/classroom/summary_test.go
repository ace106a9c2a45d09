package main

import (
	"math"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/flagx"
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

func TestResultBounds(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name                                string
		n                                   int
		size, seedUp, up, down              int64
		wantSeed, wantDown, wantSwarm, want float64
		wantClientServer                    float64
	}{
		// The defaults: 30·128/(8+30·4) = 30 s beats F/U_s = F/D = 16 s.
		{name: "defaults", n: 30, size: 128 * mib, seedUp: 8 * mib, up: 4 * mib, down: 8 * mib,
			wantSeed: 16, wantDown: 16, wantSwarm: 30, want: 30, wantClientServer: 480},
		{name: "slow seeder", n: 2, size: 8 * mib, seedUp: 1 * mib, up: 8 * mib, down: 8 * mib,
			wantSeed: 8, wantDown: 1, wantSwarm: 16.0 / 17, want: 8, wantClientServer: 16},
		{name: "slow download", n: 2, size: 8 * mib, seedUp: 8 * mib, up: 8 * mib, down: 2 * mib,
			wantSeed: 1, wantDown: 4, wantSwarm: 16.0 / 24, want: 4, wantClientServer: 2},
		{name: "uncapped leechers", n: 4, size: 8 * mib, seedUp: 8 * mib,
			wantSeed: 1, want: 1, wantClientServer: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &class{leechers: make([]leecher, tt.n)}
			c.o = options{n: tt.n, size: flagx.ByteSize(tt.size),
				seedUp: flagx.ByteRate(tt.seedUp), up: flagx.ByteRate(tt.up), down: flagx.ByteRate(tt.down)}
			for i := range c.leechers {
				c.leechers[i] = leecher{done: true, verified: true, doneAt: time.Duration(i+1) * time.Second}
			}
			c.makespan = time.Duration(tt.n) * time.Second
			r := c.result()
			check := func(what string, got, want float64) {
				if math.Abs(got-want) > 0.001 {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("F/U_s", r.TSeed, tt.wantSeed)
			check("F/D_min", r.TDown, tt.wantDown)
			check("N·F/(U_s+ΣU_i)", r.TSwarm, tt.wantSwarm)
			check("T*", r.TStar, tt.want)
			check("N·F/U_s", r.ClientServer, tt.wantClientServer)
			check("makespan/T*", r.OverTStar, float64(tt.n)/tt.want)
			check("max", r.Max, float64(tt.n))
			if r.failed() {
				t.Errorf("failed() with every leecher verified")
			}
		})
	}
}
