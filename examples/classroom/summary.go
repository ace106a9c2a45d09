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

// result is the classroom's outcome, printed and optionally written as JSON.
// Times are in seconds; a bound or ratio that a 0 (uncapped) rate makes
// meaningless is 0.
type result struct {
	Mode      string `json:"mode"` // processes or goroutines
	Leechers  int    `json:"leechers"`
	FileBytes int64  `json:"file_bytes"`
	SeedUp    int64  `json:"seed_up"` // bytes/s; 0 is uncapped
	Up        int64  `json:"up"`
	Down      int64  `json:"down"`
	Completed int    `json:"completed"`
	Verified  int    `json:"verified"`

	Min      float64 `json:"min_seconds"`
	Median   float64 `json:"median_seconds"`
	P90      float64 `json:"p90_seconds"`
	Max      float64 `json:"max_seconds"`
	Makespan float64 `json:"makespan_seconds"`

	// TStar is the least makespan any schedule allows: the most of the
	// seeder pushing F, the slowest leecher pulling F, and the class's
	// whole upload moving N·F.
	TStar        float64 `json:"tstar_seconds"`
	TSeed        float64 `json:"tstar_seed_seconds"`  // F/U_s
	TDown        float64 `json:"tstar_down_seconds"`  // F/D_min
	TSwarm       float64 `json:"tstar_swarm_seconds"` // N·F/(U_s+ΣU_i)
	OverTStar    float64 `json:"makespan_over_tstar"`
	ClientServer float64 `json:"client_server_seconds"` // N·F/U_s

	// SeederUpload is the seeder's upload over F: null, since the public
	// API reports counters only for a Download, not for a share.
	SeederUpload *float64 `json:"seeder_upload_over_f"`
	// SeederUploadEstimate is (ΣDownloaded - ΣUploaded) / F over the
	// leechers, what came from outside the class of leechers, counted when
	// they stop; 0 unless every leecher completed.
	SeederUploadEstimate float64 `json:"seeder_upload_over_f_estimate"`

	Peers []peerResult `json:"peers"`
}

type peerResult struct {
	Node       int     `json:"node"`
	Seconds    float64 `json:"seconds"`       // from the common start to done, as the classroom saw it
	OwnSeconds float64 `json:"fetch_seconds"` // from its Fetch call to done, as it measured
	Downloaded int64   `json:"downloaded"`
	Uploaded   int64   `json:"uploaded"`
	Verified   bool    `json:"verified"`
	Error      string  `json:"error,omitempty"`
}

func (c *class) result() *result {
	o := c.o
	f, n := float64(o.size), float64(o.n)
	r := &result{
		Mode: "processes", Leechers: o.n, FileBytes: int64(o.size),
		SeedUp: int64(o.seedUp), Up: int64(o.up), Down: int64(o.down),
		TSeed:        per(f, float64(o.seedUp)),
		TDown:        per(f, float64(o.down)),
		ClientServer: per(n*f, float64(o.seedUp)),
	}
	if o.inprocess {
		r.Mode = "goroutines"
	}
	if o.seedUp > 0 && o.up > 0 {
		r.TSwarm = per(n*f, float64(o.seedUp)+n*float64(o.up))
	}
	r.TStar = max(r.TSeed, r.TDown, r.TSwarm)
	r.OverTStar = per(c.makespan.Seconds(), r.TStar)
	r.TSeed, r.TDown, r.TSwarm = round(r.TSeed), round(r.TDown), round(r.TSwarm)
	r.TStar, r.ClientServer = round(r.TStar), round(r.ClientServer)
	var times []float64
	var down, up int64
	for i, p := range c.leechers {
		pr := peerResult{Node: i + 1, OwnSeconds: round(p.seconds), Downloaded: p.downloaded, Uploaded: p.uploaded, Verified: p.verified}
		if p.done {
			r.Completed++
			pr.Seconds = round(p.doneAt.Seconds())
			times = append(times, p.doneAt.Seconds())
		}
		if p.verified {
			r.Verified++
		}
		if p.err != nil {
			pr.Error = console.Line(p.err)
		}
		down, up = down+p.downloaded, up+p.uploaded
		r.Peers = append(r.Peers, pr)
	}
	slices.Sort(times)
	if len(times) > 0 {
		r.Min, r.Max = round(times[0]), round(times[len(times)-1])
		r.Median, r.P90 = round(quantile(times, 0.5)), round(quantile(times, 0.9))
	}
	if r.Completed == o.n {
		r.Makespan = round(c.makespan.Seconds())
		r.OverTStar = round(r.OverTStar)
	} else {
		r.OverTStar = 0
	}
	if r.Completed == o.n {
		r.SeederUploadEstimate = round(float64(down-up) / f)
	}
	return r
}

// per is a/b, or 0 when b is 0: a capacity that is not capped.
func per(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
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

func (r *result) print(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "classroom: %d leechers fetched %s from one seeder (%s): seeder up %s/s, leechers up %s/s, down %s/s\n",
		r.Leechers, flagx.FormatBytes(r.FileBytes), r.Mode,
		flagx.FormatBytes(r.SeedUp), flagx.FormatBytes(r.Up), flagx.FormatBytes(r.Down))
	fmt.Fprintf(&b, "completion:     min %s  median %s  p90 %s  max %s  (%d of %d)\n",
		secs(r.Min), secs(r.Median), secs(r.P90), secs(r.Max), r.Completed, r.Leechers)
	fmt.Fprintf(&b, "makespan:       %s\n", secs(r.Makespan))
	fmt.Fprintf(&b, "T*:             %s  = max(F/U_s %s, F/D_min %s, N·F/(U_s+ΣU_i) %s)\n",
		secs(r.TStar), secs(r.TSeed), secs(r.TDown), secs(r.TSwarm))
	if r.OverTStar > 0 {
		fmt.Fprintf(&b, "makespan / T*:  %.2f\n", r.OverTStar)
	} else {
		fmt.Fprintf(&b, "makespan / T*:  n/a\n")
	}
	fmt.Fprintf(&b, "client-server:  %s  (N·F/U_s, one server sending to everyone)\n", secs(r.ClientServer))
	est := "n/a"
	if r.SeederUploadEstimate != 0 {
		est = fmt.Sprintf("≈ %.2f", r.SeederUploadEstimate)
	}
	fmt.Fprintf(&b, "seeder up / F:  n/a (the API has no counters for a share); from the leechers' counters %s\n", est)
	fmt.Fprintf(&b, "verified:       %d of %d outputs match the source (SHA-256)\n", r.Verified, r.Leechers)
	for _, p := range r.Peers {
		if p.Error != "" {
			fmt.Fprintf(&b, "leecher %d failed: %s\n", p.Node, p.Error)
		}
	}
	_, _ = io.WriteString(w, b.String())
}

func (r *result) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing -json-out: %w", err)
	}
	return nil
}
