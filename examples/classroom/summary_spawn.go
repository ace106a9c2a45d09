package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// spawnResult is the run timed from the leechers' spawn, as a class that
// starts together lives it: process start, admission, DHT, manifest and
// first links count, as does waiting for the go-ahead when there is one.
type spawnResult struct {
	// Makespan is from the first leecher's spawn to the last one done.
	Makespan  float64 `json:"makespan_seconds"`
	OverTStar float64 `json:"makespan_over_tstar"`
	// Median is the median over the leechers of each one's done, from
	// its own spawn.
	Median          float64 `json:"median_seconds"`
	MedianOverTStar float64 `json:"median_over_tstar"`
	// Launch is how long the classroom took to spawn the leechers, from
	// the first to the last.
	Launch float64 `json:"launch_seconds"`
	// Phases are each phase's times over the leechers, from each one's
	// spawn.
	Phases []phaseStats `json:"phases"`
}

// phaseStats are a phase's times over the leechers that reached it.
type phaseStats struct {
	Phase  string  `json:"phase"`
	Count  int     `json:"count"`
	Median float64 `json:"median_seconds"`
	P90    float64 `json:"p90_seconds"`
	Max    float64 `json:"max_seconds"`
}

// connStats are connections per leecher, by the leechers' own counts.
type connStats struct {
	DoneMedian float64 `json:"done_median"` // when each was done
	DoneMax    int     `json:"done_max"`
	StopMedian float64 `json:"stop_median"` // when asked to stop, the whole class done
	StopMax    int     `json:"stop_max"`
	Seeder     int     `json:"seeder"` // the seeder's, when asked to stop
	// OpenedMedian and OpenedMax are the connections each leecher opened
	// and accepted in all, by its last report: far above the connections
	// held, the class is cutting and redialling.
	OpenedMedian float64 `json:"opened_median"`
	OpenedMax    int     `json:"opened_max"`
	// Links are the peers each leecher traded pieces with when it was
	// done, of its connections: a student far below the others' links
	// was cut off from the class.
	LinksMin    int     `json:"links_min"`
	LinksMedian float64 `json:"links_median"`
	LinksMax    int     `json:"links_max"`
}

// cpuStats are the CPU seconds a student cost, and a GiB delivered.
type cpuStats struct {
	// PerStudent is the leechers' CPU over N; in one process, where no
	// node's own is known, the whole process's over N.
	PerStudent float64 `json:"per_student"`
	// Median and Max are over the leecher processes; 0 in one process.
	Median float64 `json:"per_student_median"`
	Max    float64 `json:"per_student_max"`
	Seeder float64 `json:"seeder"` // the seeder process's; 0 in one process
	// PerGiB is all the nodes' CPU per GiB delivered (F for each leecher
	// that completed).
	PerGiB float64 `json:"per_gib_delivered"`
}

// spawnResult times the class from its leechers' spawn.
func (c *class) spawnResult(tstar float64) spawnResult {
	var r spawnResult
	var last, firstSpawn, lastSpawn time.Time
	var own []float64
	for _, l := range c.leechers {
		if l.spawned.IsZero() {
			continue
		}
		if firstSpawn.IsZero() || l.spawned.Before(firstSpawn) {
			firstSpawn = l.spawned
		}
		if l.spawned.After(lastSpawn) {
			lastSpawn = l.spawned
		}
		if d := l.at[phaseDone]; !d.IsZero() {
			own = append(own, d.Sub(l.spawned).Seconds())
			if d.After(last) {
				last = d
			}
		}
	}
	r.Launch = round(lastSpawn.Sub(firstSpawn).Seconds())
	for ph := range numPhases {
		var xs []float64
		for _, l := range c.leechers {
			if t := l.at[ph]; !t.IsZero() && !l.spawned.IsZero() {
				xs = append(xs, t.Sub(l.spawned).Seconds())
			}
		}
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		r.Phases = append(r.Phases, phaseStats{Phase: ph.String(), Count: len(xs),
			Median: round(quantile(xs, 0.5)), P90: round(quantile(xs, 0.9)), Max: round(xs[len(xs)-1])})
	}
	if len(own) == c.p.Leechers && c.p.Leechers > 0 {
		slices.Sort(own)
		r.Makespan = round(last.Sub(firstSpawn).Seconds())
		r.OverTStar = round(per(last.Sub(firstSpawn).Seconds(), tstar))
		r.Median = round(quantile(own, 0.5))
		r.MedianOverTStar = round(per(quantile(own, 0.5), tstar))
	}
	return r
}

// joinedAll is from the first leecher's spawn to the last one's joining;
// 0 unless all joined.
func (c *class) joinedAll() time.Duration {
	var last time.Time
	for _, l := range c.leechers {
		t := l.at[phaseJoined]
		if t.IsZero() {
			return 0
		}
		if t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return 0
	}
	return last.Sub(c.launched)
}

func (c *class) connStats() connStats {
	var done, stop, opened, links []float64
	for _, l := range c.leechers {
		if l.linksDone > 0 {
			links = append(links, float64(l.linksDone))
		}
		if l.opened > 0 {
			opened = append(opened, float64(l.opened))
		}
		if l.peersDone > 0 {
			done = append(done, float64(l.peersDone))
		}
		if l.peersStop > 0 {
			stop = append(stop, float64(l.peersStop))
		}
	}
	var s connStats
	var most float64
	s.DoneMedian, most = medianMax(done)
	s.DoneMax = int(most)
	s.StopMedian, most = medianMax(stop)
	s.StopMax = int(most)
	s.OpenedMedian, most = medianMax(opened)
	s.OpenedMax = int(most)
	s.Seeder = c.seedPeer
	s.LinksMedian, most = medianMax(links)
	s.LinksMax = int(most)
	if len(links) > 0 {
		s.LinksMin = int(links[0]) // medianMax sorted them
	}
	return s
}

func (c *class) cpuStats(delivered int64) cpuStats {
	var s cpuStats
	n := float64(c.p.Leechers)
	if c.p.Mode == "goroutines" {
		s.PerStudent = round(c.cpu / n)
	} else {
		var xs []float64
		var sum float64
		for _, l := range c.leechers {
			if l.exited {
				xs = append(xs, l.cpu)
				sum += l.cpu
			}
		}
		s.PerStudent = round(sum / n)
		s.Median, s.Max = medianMax(xs)
		s.Seeder = round(c.seedCPU)
	}
	s.PerGiB = round(per(c.cpu, float64(delivered)/(1<<30)))
	return s
}

// printSpawn writes the from-spawn lines of the summary: the makespan and
// median over T*, and a table of the phases.
func (r *result) printSpawn(b *strings.Builder) {
	s := r.FromSpawn
	fmt.Fprintf(b, "from spawn:     makespan %s%s  median %s%s  (the leechers spawned over %s)\n",
		secs(s.Makespan), ofTStar(s.OverTStar), secs(s.Median), ofTStar(s.MedianOverTStar), secs(s.Launch))
	if len(s.Phases) == 0 {
		return
	}
	fmt.Fprintf(b, "  %-13s %8s %8s %8s  (from each leecher's spawn; of %d)\n", "phase", "median", "p90", "max", r.Leechers)
	for _, p := range s.Phases {
		count := ""
		if p.Count < r.Leechers {
			count = fmt.Sprintf("  %d reached it", p.Count)
		}
		fmt.Fprintf(b, "  %-13s %8s %8s %8s%s\n", p.Phase, secs(p.Median), secs(p.P90), secs(p.Max), count)
	}
}

// printConns writes connections per student, where the nodes said.
func (r *result) printConns(b *strings.Builder) {
	c := r.Connections
	if c.DoneMax == 0 && c.StopMax == 0 {
		return
	}
	fmt.Fprintf(b, "connections:    per leecher median %g max %d when done, %g max %d at the end; the seeder %d\n",
		c.DoneMedian, c.DoneMax, c.StopMedian, c.StopMax, c.Seeder)
	if c.OpenedMax > 0 {
		fmt.Fprintf(b, "                opened and accepted per leecher in all: median %g max %d\n", c.OpenedMedian, c.OpenedMax)
	}
	if c.LinksMax > 0 {
		fmt.Fprintf(b, "                of them trading pieces when done (links): median %g min %d max %d\n", c.LinksMedian, c.LinksMin, c.LinksMax)
	}
}

// printCPU writes the CPU a student and a GiB cost.
func (r *result) printCPU(b *strings.Builder) {
	c := r.CPU
	fmt.Fprintf(b, "CPU a student:  %.2fs", c.PerStudent)
	if r.Mode != "goroutines" {
		fmt.Fprintf(b, " (median %.2fs, max %.2fs; the seeder %.2fs)", c.Median, c.Max, c.Seeder)
	}
	perGiB := "n/a"
	if r.Delivered > 0 {
		perGiB = fmt.Sprintf("%.1fs", c.PerGiB)
	}
	fmt.Fprintf(b, "; every node's CPU per GiB delivered %s\n", perGiB)
}

// ofTStar writes " = x·T*", or nothing where there is no T*.
func ofTStar(x float64) string {
	if x == 0 {
		return ""
	}
	return fmt.Sprintf(" = %.2f·T*", x)
}
