package sim

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

const mib = 1 << 20

func s2() Class {
	ups, downs := Uniform(30, 4*mib, 8*mib)
	return Class{N: 30, FileSize: 128 * mib, PieceSize: 256 << 10, SeedUp: 8 * mib, Up: ups, Down: downs,
		Degree: 40, Depth: 256, Slots: 64, Step: 5 * time.Millisecond, Seed: 1, Target: 500 * time.Millisecond}
}

func TestS2NearBound(t *testing.T) {
	c := s2()
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	ratio := r.Makespan.Seconds() / r.TStar.Seconds()
	t.Logf("T*=%v makespan=%v (%.3f T*) seed uploaded %.2f F, steps %d", r.TStar, r.Makespan, ratio, float64(r.SeedUploaded)/float64(c.FileSize), r.Steps)
	if r.TStar != 30*time.Second {
		t.Fatalf("T* = %v, want 30s", r.TStar)
	}
	if ratio > 1.15 {
		t.Errorf("makespan %.3f T*", ratio)
	}
}

func TestSameSeedSameRun(t *testing.T) {
	c := s2()
	c.N, c.Up, c.Down = 8, c.Up[:8], c.Down[:8]
	c.FileSize = 16 * mib
	a, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(c)
	if !slices.Equal(a.Done, b.Done) || a.SeedUploaded != b.SeedUploaded {
		t.Fatalf("same seed, different runs: %v vs %v", a.Done, b.Done)
	}
	c.Seed = 2
	d, _ := Run(c)
	if slices.Equal(a.Done, d.Done) {
		t.Log("a different seed gave the same completion times (possible, but suspicious)")
	}
}

// TestReceiversStayUnderTheirCaps steps a class whose students upload as
// fast as they download (S6's shape, smaller) and checks at every step that
// what each student receives, over all its transfers, stays within its
// download: a receiver fed by several uploaders with upload to spare once
// took five times its cap.
func TestReceiversStayUnderTheirCaps(t *testing.T) {
	for _, slots := range []int{64, 0} {
		t.Run(fmt.Sprintf("slots %d", slots), func(t *testing.T) { receiversStayUnderTheirCaps(t, slots) })
	}
}

func receiversStayUnderTheirCaps(t *testing.T, slots int) {
	ups, downs := Uniform(200, 125e6, 125e6)
	c := Class{N: 200, FileSize: 1e9, PieceSize: 4 << 20, SeedUp: 1e9, Up: ups, Down: downs,
		Degree: 40, Depth: 16, Slots: slots, Step: 5 * time.Millisecond, Seed: 1, Target: 500 * time.Millisecond}
	w := newWorld(c)
	for step := 0; step < 4000 && !w.finished(); step++ {
		w.now += c.Step
		if step%100 == 0 {
			w.sample(w.now)
		}
		w.startUploads()
		w.advance(c.Step.Seconds())
		in := make([]float64, len(w.nodes))
		for _, nd := range w.nodes {
			for _, f := range nd.active {
				in[f.to] += f.rate
			}
		}
		for id, r := range in {
			if r > w.nodes[id].down*(1+1e-9) {
				t.Fatalf("at %v student %d receives %.0f B/s, its cap is %.0f", w.now, id-1, r, w.nodes[id].down)
			}
		}
	}
}
