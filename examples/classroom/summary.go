package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

// result is the classroom's outcome, printed and optionally written as JSON
// and drawn as SVG. Times are in seconds from the moment the leechers
// started; a bound or ratio that a 0 (uncapped) rate or an unfinished class
// makes meaningless is 0.
type result struct {
	params
	Completed int `json:"completed"`
	Verified  int `json:"verified"`

	Min      float64 `json:"min_seconds"`
	Median   float64 `json:"median_seconds"`
	P90      float64 `json:"p90_seconds"`
	Max      float64 `json:"max_seconds"`
	Makespan float64 `json:"makespan_seconds"` // from the go-ahead, every leecher joined, to the last one done (no go-ahead: from the first spawn)
	// The leechers' phases as each measured from its Fetch call: the
	// manifest found, the first verified piece (median and max).
	ResolvedMedian float64 `json:"resolved_median_seconds"`
	ResolvedMax    float64 `json:"resolved_max_seconds"`
	FirstMedian    float64 `json:"first_piece_median_seconds"`
	FirstMax       float64 `json:"first_piece_max_seconds"`
	// JoinSeconds is how long the leechers took to start and join the
	// network, all at once, from the first spawn to the last join.
	JoinSeconds float64 `json:"join_seconds"`
	// FromSpawn is the run timed from the leechers' spawn, phase by phase.
	FromSpawn spawnResult `json:"from_spawn"`

	// TStar is the least makespan any schedule allows: the most of the
	// seeder pushing F, the slowest leecher pulling F, and the class's
	// whole upload moving N·F.
	TStar          float64 `json:"tstar_seconds"`
	TSeed          float64 `json:"tstar_seed_seconds"`  // F/U_s
	TDown          float64 `json:"tstar_down_seconds"`  // F/D_min
	TSwarm         float64 `json:"tstar_swarm_seconds"` // N·F/(U_s+ΣU_i)
	OverTStar      float64 `json:"makespan_over_tstar"`
	MedianOverStar float64 `json:"median_over_tstar"`
	ClientServer   float64 `json:"client_server_seconds"` // N·F/U_s

	// SeederUploaded is the piece payload the seeder sent, as it counted;
	// SeederUpload is that over F, 1 when it sent no piece twice.
	SeederUploaded int64   `json:"seeder_uploaded_bytes"`
	SeederUpload   float64 `json:"seeder_upload_over_f"`
	// SeederUploadEstimate is (ΣDownloaded - ΣUploaded) / F over the
	// leechers, what came from outside the class of leechers: a
	// cross-check, 0 unless every leecher completed.
	SeederUploadEstimate float64 `json:"seeder_upload_over_f_estimate"`

	// CPUSeconds is the CPU time the nodes used, from the seeder's start to
	// the last node's stop; CPUSource says how it was counted.
	CPUSeconds float64 `json:"cpu_seconds"`
	CPUSource  string  `json:"cpu_source"`
	Delivered  int64   `json:"delivered_bytes"`    // F for each leecher that completed
	CPUPerGB   float64 `json:"cpu_seconds_per_gb"` // per 10⁹ bytes delivered
	// MachineBusy is the share of the whole machine's CPU (every core,
	// every process) busy from the go-ahead (or, without one, the first
	// spawn) to the last leecher done, and
	// Cores how many cores it has; both absent where the machine does not
	// say (outside Linux).
	MachineBusy *float64 `json:"machine_cpu_busy,omitempty"`
	Cores       int      `json:"cores,omitempty"`
	CPU         cpuStats `json:"cpu"`
	// Connections are the peers each leecher had a connection with.
	Connections connStats `json:"connections"`
	// Delay is what the packet releasers that added -rtt did, and their
	// CPU time (not in CPUSeconds, the nodes'); absent without -rtt.
	Delay *delayStats `json:"rtt_releasers,omitempty"`

	Peers    []peerResult `json:"peers"`
	Timeline []timePoint  `json:"timeline"` // content the leechers held, sampled
}

type peerResult struct {
	Node       int     `json:"node"`
	Up         int64   `json:"up"`                  // its upload cap, bytes/s; 0 is none
	Down       int64   `json:"down"`                // its download cap
	Seconds    float64 `json:"seconds"`             // from the common start to done, as the classroom saw it; 0 if not done
	OwnSeconds float64 `json:"fetch_seconds"`       // from its Fetch call to done, as it measured
	Resolved   float64 `json:"resolved_seconds"`    // from its Fetch call to the manifest found
	FirstPiece float64 `json:"first_piece_seconds"` // from its Fetch call to its first verified piece
	Downloaded int64   `json:"downloaded"`
	Uploaded   int64   `json:"uploaded"`
	Verified   bool    `json:"verified"`
	Error      string  `json:"error,omitempty"`
}

type timePoint struct {
	Seconds float64 `json:"seconds"`
	Bytes   int64   `json:"bytes"`
}

func (c *class) result() *result {
	p := c.p
	f := float64(p.FileBytes)
	b := boundsOf(p)
	r := &result{
		params: p,
		TStar:  round(b.TStar), TSeed: round(b.Seed), TDown: round(b.Down), TSwarm: round(b.Swarm),
		ClientServer:   round(b.ClientServer),
		SeederUploaded: c.seedUp,
		SeederUpload:   round(float64(c.seedUp) / f),
		CPUSeconds:     round(c.cpu),
		CPUSource:      "user+sys of the node processes",
	}
	if p.Mode == "goroutines" {
		r.CPUSource = selfCPUSource
	}
	var times, resolved, first []float64
	var down, up int64
	for i, l := range c.leechers {
		pr := peerResult{Node: i + 1, OwnSeconds: round(l.seconds), Resolved: round(l.resolved), FirstPiece: round(l.first),
			Downloaded: l.downloaded, Uploaded: l.uploaded, Verified: l.verified}
		if l.resolved > 0 {
			resolved = append(resolved, l.resolved)
		}
		if l.first > 0 {
			first = append(first, l.first)
		}
		if i < len(p.ups) && i < len(p.downs) {
			pr.Up, pr.Down = p.ups[i], p.downs[i]
		}
		if l.done {
			r.Completed++
			pr.Seconds = round(l.doneAt.Seconds())
			times = append(times, l.doneAt.Seconds())
		}
		if l.verified {
			r.Verified++
		}
		if l.err != nil {
			pr.Error = console.Line(l.err)
		}
		down, up = down+l.downloaded, up+l.uploaded
		r.Peers = append(r.Peers, pr)
	}
	for _, s := range c.samples {
		r.Timeline = append(r.Timeline, timePoint{Seconds: round(s.at.Seconds()), Bytes: s.bytes})
	}
	r.ResolvedMedian, r.ResolvedMax = medianMax(resolved)
	r.FirstMedian, r.FirstMax = medianMax(first)
	slices.Sort(times)
	if len(times) > 0 {
		r.Min, r.Max = round(times[0]), round(times[len(times)-1])
		r.Median, r.P90 = round(quantile(times, 0.5)), round(quantile(times, 0.9))
	}
	if r.Completed == p.Leechers {
		r.Makespan = round(c.makespan.Seconds())
		r.JoinSeconds = round(c.joinedAll().Seconds())
		r.OverTStar = round(per(c.makespan.Seconds(), b.TStar))
		r.MedianOverStar = round(per(quantile(times, 0.5), b.TStar))
		r.SeederUploadEstimate = round(float64(down-up) / f)
	}
	r.Delivered = int64(r.Completed) * p.FileBytes
	r.CPUPerGB = round(per(c.cpu, float64(r.Delivered)/1e9))
	r.CPU = c.cpuStats(r.Delivered)
	r.Connections = c.connStats()
	r.FromSpawn = c.spawnResult(b.TStar)
	if c.busy != nil {
		busy := round(*c.busy)
		r.MachineBusy, r.Cores = &busy, c.cores
	}
	return r
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// quantile interpolates linearly between the closest ranks of sorted.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

func (r *result) failed() bool { return r.Verified < r.Leechers }

func secs(x float64) string {
	switch {
	case x == 0:
		return "n/a"
	case x < 60:
		return fmt.Sprintf("%.2fs", x)
	}
	return console.Duration(time.Duration(x * float64(time.Second)))
}

// ratio writes x to two places, or n/a for 0.
func ratio(x float64) string {
	if x == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

// title names the run: its scenario, or "classroom", and its size.
func (r *result) title() string {
	name := "classroom"
	if r.Scenario != "" {
		name += " " + strings.ToUpper(r.Scenario)
	}
	return fmt.Sprintf("%s: %d leechers fetch %s from one seeder", name, r.Leechers, flagx.FormatBytes(r.FileBytes))
}

// caps describes the run's rates and mode in one line.
func (r *result) caps() string {
	s := fmt.Sprintf("caps: seeder up %s, leechers up %s, down %s", uniform(r.SeedUp).display(), r.Up.display(), r.Down.display())
	if r.Scale != 1 {
		s += fmt.Sprintf(" (rates ×%g)", r.Scale)
	}
	if r.SeedBudget > 0 {
		s += fmt.Sprintf("; seeder budget %g copies", r.SeedBudget)
	}
	switch {
	case r.Mode == "goroutines":
		return s + "; nodes in one process"
	case r.Shaping == shapingTC && r.RTT > 0:
		return s + fmt.Sprintf("; a process per node in its own network namespace, the caps enforced by tc HTB and told to no node; +%v round trip (NFQUEUE)", rttOf(r.RTT))
	case r.Shaping == shapingTC:
		return s + "; a process per node in its own network namespace, the caps enforced by tc HTB and told to no node"
	}
	return s + "; a process per node"
}

func (r *result) print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n", r.title(), r.caps())
	fmt.Fprintf(&b, "completion:     min %s  median %s  p90 %s  max %s  (%d of %d)\n",
		secs(r.Min), secs(r.Median), secs(r.P90), secs(r.Max), r.Completed, r.Leechers)
	settled := ""
	if r.Settle > 0 {
		settled = fmt.Sprintf(" and waited %s", secs(r.Settle))
	}
	if r.GoAhead {
		fmt.Fprintf(&b, "makespan:       %s  (from the go-ahead; the leechers joined in %s%s before it)\n", secs(r.Makespan), secs(r.JoinSeconds), settled)
	} else {
		fmt.Fprintf(&b, "makespan:       %s  (no go-ahead: from the first spawn, each leecher fetching once it joined; all joined in %s)\n", secs(r.Makespan), secs(r.JoinSeconds))
	}
	r.printSpawn(&b)
	fmt.Fprintf(&b, "phases:         manifest found median %s max %s; first piece median %s max %s  (each leecher's own clock, from its Fetch)\n",
		secs(r.ResolvedMedian), secs(r.ResolvedMax), secs(r.FirstMedian), secs(r.FirstMax))
	fmt.Fprintf(&b, "T*:             %s  = max(F/U_s %s, F/D_min %s, N·F/(U_s+ΣU_i) %s)\n",
		secs(r.TStar), secs(r.TSeed), secs(r.TDown), secs(r.TSwarm))
	fmt.Fprintf(&b, "makespan / T*:  %s  (median / T* %s)\n", ratio(r.OverTStar), ratio(r.MedianOverStar))
	fmt.Fprintf(&b, "client-server:  %s  (N·F/U_s, one server sending to everyone)\n", secs(r.ClientServer))
	est := "n/a"
	if r.SeederUploadEstimate != 0 {
		est = fmt.Sprintf("%.2f", r.SeederUploadEstimate)
	}
	fmt.Fprintf(&b, "seeder up / F:  %.2f  (%s sent; the leechers' counters say %s)\n",
		r.SeederUpload, flagx.FormatBytes(r.SeederUploaded), est)
	cpuPerGB := "n/a"
	if r.Delivered > 0 {
		cpuPerGB = fmt.Sprintf("%.1fs", r.CPUPerGB)
	}
	fmt.Fprintf(&b, "CPU:            %.1fs, %s per GB delivered  (%s)\n", r.CPUSeconds, cpuPerGB, r.CPUSource)
	r.printCPU(&b)
	r.printDelay(&b)
	r.printConns(&b)
	if r.MachineBusy != nil {
		from := "the go-ahead"
		if !r.GoAhead {
			from = "the first spawn"
		}
		fmt.Fprintf(&b, "machine CPU:    %.0f%% of %d cores busy from %s to the last done", 100**r.MachineBusy, r.Cores, from)
		if *r.MachineBusy >= cpuBound {
			scale := r.Scale
			if scale <= 0 {
				scale = 1
			}
			fmt.Fprintf(&b, "; the CPU, not the caps, may have set the pace (-scale %g halves every cap)", scale/2)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "verified:       %d of %d outputs match the source (SHA-256)\n", r.Verified, r.Leechers)
	for _, p := range r.Peers {
		if p.Error != "" {
			fmt.Fprintf(&b, "leecher %d failed: %s\n", p.Node, p.Error)
		}
	}
	_, _ = io.WriteString(w, b.String())
}

func (r *result) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing -json-out: %w", err)
	}
	return nil
}

// medianMax sorts xs and returns its median and its largest, rounded; zeros
// if it is empty.
func medianMax(xs []float64) (median, most float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	return round(quantile(xs, 0.5)), round(xs[len(xs)-1])
}
