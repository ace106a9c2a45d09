package classview

import (
	"math"
	"testing"
)

func TestComputeBound(t *testing.T) {
	const mib = 1 << 20
	rep := func(n int, v float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	tests := []struct {
		name          string
		size          int64
		seedUp        float64
		up, down      []float64
		tstar, oneSrv float64
		term          string
	}{
		// The design's scenarios (DESIGN.md §4).
		{name: "S2", size: 128 * mib, seedUp: 8 * mib, up: rep(30, 4*mib), down: rep(30, 8*mib), tstar: 30, oneSrv: 480, term: "swarm"},
		{name: "S3", size: 128 * mib, seedUp: 16 * mib, up: rep(30, 2*mib), down: rep(30, 2*mib), tstar: 64, oneSrv: 240, term: "download"},
		{name: "S4", size: 128 * mib, seedUp: 8 * mib, up: append(rep(20, 1*mib), rep(20, 6*mib)...), down: rep(40, 8*mib), tstar: 40 * 128.0 / 148, oneSrv: 640, term: "swarm"},
		{name: "one receiver, slow seeder", size: 100, seedUp: 10, up: []float64{1000}, down: []float64{1000}, tstar: 10, oneSrv: 10, term: "seeder"},
		{name: "unknown download left out", size: 100, seedUp: 100, up: []float64{0, 0}, down: []float64{0, 50}, tstar: 2, oneSrv: 2, term: "download"},
		{name: "no seeder upload known", size: 100, seedUp: 0, up: []float64{1}, down: []float64{1}},
		{name: "no receivers", size: 100, seedUp: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ComputeBound(tt.size, tt.seedUp, tt.up, tt.down)
			if math.Abs(b.TStar-tt.tstar) > 1e-9 || math.Abs(b.OneServer-tt.oneSrv) > 1e-9 || b.Term != tt.term {
				t.Errorf("ComputeBound = %+v, want T* %v (%q), one server %v", b, tt.tstar, tt.term, tt.oneSrv)
			}
		})
	}
}
