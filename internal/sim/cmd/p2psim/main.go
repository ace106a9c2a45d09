// Command p2psim runs a simulated class on a virtual clock and prints how
// close it came to the lower bound T*.
//
//	go run ./internal/sim/cmd/p2psim -scenario s6
//	go run ./internal/sim/cmd/p2psim -scenario s6 -join-rate 0   # the class all there at time 0
//	go run ./internal/sim/cmd/p2psim -n 200 -size 1GB -seed-up 100MB -up 10MB -down 50MB
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/sim"
)

func main() {
	scenario := flag.String("scenario", "", "a named class: s2, s3, s4, s6, wifi, mixed (overrides the rate flags)")
	n := flag.Int("n", 30, "students")
	size := flag.String("size", "128MiB", "file size")
	seedUp := flag.String("seed-up", "8MiB", "seeder upload, bytes/s")
	up := flag.String("up", "4MiB", "student upload, bytes/s")
	down := flag.String("down", "8MiB", "student download, bytes/s")
	degree := flag.Int("degree", 0, "links each student opens; 0: as many as the swarm's fetch dials for the share (picker.LinkTarget)")
	slots := flag.Int("slots", 0, "uploads a node runs at once; 0: as few as fill its upload, as the real swarm's uploaders do")
	inflight := flag.String("inflight", "64MiB", "bytes of requests kept open per link")
	step := flag.Duration("step", 5*time.Millisecond, "virtual time step")
	target := flag.Duration("target", 500*time.Millisecond, "delivery time the requests open to a peer cover")
	outSecs := flag.Float64("outstanding", 0, "cap requests open across all peers at this many seconds of download (0: none)")
	seed := flag.Uint64("seed", 1, "random seed; the same seed replays the same run")
	budget := flag.Float64("seed-budget", 0, "copies of the file the seeder uploads before it shows only pieces nobody else holds (0: no budget)")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	timeline := flag.Bool("timeline", false, "print, per second of virtual time, the share of upload and download used and students done")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (see go tool pprof)")
	joinRate := flag.Float64("join-rate", 500, "students admitted a second when the class starts together (p2pshare's admission line); 0: all there at time 0")
	joinLatency := flag.Duration("join-latency", time.Second, "from a student's admission to its first trade (process start, handshakes, manifest, first lookups)")
	flag.Parse()

	c := sim.Class{N: *n, Degree: *degree, Slots: *slots, Step: *step, Seed: *seed, Target: *target, OutstandingSecs: *outSecs, SeedBudget: *budget,
		JoinRate: *joinRate, JoinLatency: *joinLatency}
	var err error
	c.FileSize, err = bytesOf(*size)
	check(err)
	rate := func(s string) float64 { v, err := bytesOf(s); check(err); return float64(v) }
	c.SeedUp = rate(*seedUp)
	c.Up, c.Down = sim.Uniform(c.N, rate(*up), rate(*down))
	if *scenario != "" {
		check(named(&c, *scenario))
	}
	c.PieceSize = manifest.PieceSizeFor(c.FileSize)
	c.Depth = int(max(2, mustBytes(*inflight)/c.PieceSize))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer f.Close()
	}
	start := time.Now()
	r, err := sim.Run(c)
	wall := time.Since(start)
	pprof.StopCPUProfile() // a no-op without -cpuprofile
	check(err)
	done := slices.Clone(r.Done)
	slices.Sort(done)
	ratio := func(d time.Duration) float64 { return d.Seconds() / r.TStar.Seconds() }
	out := map[string]any{
		"students": c.N, "file_bytes": c.FileSize, "piece_bytes": c.PieceSize,
		"t_star_s": r.TStar.Seconds(), "makespan_s": r.Makespan.Seconds(),
		"makespan_x_tstar": ratio(r.Makespan), "median_x_tstar": ratio(done[len(done)/2]),
		"first_x_tstar":      ratio(done[0]),
		"client_server_s":    float64(c.N) * float64(c.FileSize) / c.SeedUp,
		"seed_upload_x_file": float64(r.SeedUploaded) / float64(c.FileSize),
		"virtual_steps":      r.Steps,
		"last_joined_s":      slices.Max(r.Joined).Seconds(),
		"wall_s":             wall.Seconds(),
	}
	if *asJSON {
		check(json.NewEncoder(os.Stdout).Encode(out))
		return
	}
	fmt.Printf("class of %d, %d bytes in %d-byte pieces\n", c.N, c.FileSize, c.PieceSize)
	if c.JoinRate > 0 {
		fmt.Printf("the class starts together: admitted at %.0f/s, trading %v after admission, the last at %.1fs; times from the class's start\n",
			c.JoinRate, c.JoinLatency, out["last_joined_s"])
	}
	fmt.Printf("T* %.1fs  makespan %.1fs = %.3f T*  median %.3f T*  first %.3f T*\n",
		r.TStar.Seconds(), r.Makespan.Seconds(), ratio(r.Makespan), ratio(done[len(done)/2]), ratio(done[0]))
	fmt.Printf("one server to everyone: %.0fs; seeder uploaded %.2f x the file\n", out["client_server_s"], out["seed_upload_x_file"])
	fmt.Printf("%d virtual steps in %.2fs of wall time\n", r.Steps, wall.Seconds())
	if *timeline {
		fmt.Println("  time  upload used  download used  done")
		for _, s := range r.Timeline {
			fmt.Printf("%6.1fs %11.1f%% %13.1f%% %5d\n", s.At.Seconds(), 100*s.UpUsed, 100*s.DownUsed, s.Done)
		}
	}
}

// named sets a scenario from the design's table.
func named(c *sim.Class, name string) error {
	const mib, mb = 1 << 20, 1e6
	switch strings.ToLower(name) {
	case "s2":
		c.N, c.FileSize, c.SeedUp = 30, 128*mib, 8*mib
		c.Up, c.Down = sim.Uniform(30, 4*mib, 8*mib)
	case "s3":
		c.N, c.FileSize, c.SeedUp = 30, 128*mib, 16*mib
		c.Up, c.Down = sim.Uniform(30, 2*mib, 2*mib)
	case "s4":
		c.N, c.FileSize, c.SeedUp = 40, 128*mib, 8*mib
		c.Up, c.Down = sim.Uniform(40, 6*mib, 8*mib)
		for i := 0; i < 20; i++ {
			c.Up[i] = 1 * mib
		}
	case "s6":
		c.N, c.FileSize, c.SeedUp = 1000, 5e9, 1e9
		c.Up, c.Down = sim.Uniform(1000, 125*mb, 125*mb)
	case "wifi":
		c.N, c.FileSize, c.SeedUp = 1000, 5e9, 1e9
		c.Up, c.Down = sim.Uniform(1000, 5*mb, 25*mb)
	case "mixed":
		c.N, c.FileSize, c.SeedUp = 1000, 5e9, 1e9
		c.Up, c.Down = sim.Uniform(1000, 125*mb, 125*mb)
		for i := 0; i < 1000; i += 2 {
			c.Up[i], c.Down[i] = 5*mb, 25*mb
		}
	default:
		return fmt.Errorf("unknown scenario %q (want s2, s3, s4, s6, wifi or mixed)", name)
	}
	return nil
}

func mustBytes(s string) int64 { v, err := bytesOf(s); check(err); return v }

// bytesOf parses 123, 8MiB, 5GB, 100K.
func bytesOf(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size or rate %q", s)
	}
	return int64(v * mult), nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "p2psim:", err)
		os.Exit(2)
	}
}
