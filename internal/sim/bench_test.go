package sim

import (
	"testing"
	"time"
)

// BenchmarkS6Small runs a fifth of the S6 class (N=200, 1 GB) to profile the
// simulator itself.
func BenchmarkS6Small(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ups, downs := Uniform(200, 125e6, 125e6)
		c := Class{N: 200, FileSize: 1e9, PieceSize: 1 << 20, SeedUp: 1e9, Up: ups, Down: downs,
			Degree: 40, Depth: 64, Slots: 0, Step: 5 * time.Millisecond, Seed: 1, Target: 500 * time.Millisecond}
		r, err := Run(c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Makespan.Seconds()/r.TStar.Seconds(), "x_of_bound")
	}
}
