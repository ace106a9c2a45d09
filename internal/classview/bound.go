package classview

import "math"

// Bound is the lower bound on how long a class takes to get a share, and
// what one server alone would take, in seconds; 0 where unknown.
//
//	T* = max( F/U_s , F/D_min , N·F / (U_s + Σ U_i) )
//
// (DESIGN.md §3), with F the share's size, N the receivers, U_s the
// seeders' upload, U_i the receivers' uploads and D_min the slowest
// receiver's download. The class as it is leaves out the receivers that
// left before they finished, and the seeders that left. A member's upload or download is its configured cap
// (Config.UploadLimit, Config.DownloadLimit), or, for a member with no cap,
// the highest rate it reported: with no caps T* is the bound for the rates
// the class has shown so far.
type Bound struct {
	TStar float64 `json:"tstar_seconds"`
	// Term names the term of T* that binds: "seeder" (F/U_s), "download"
	// (F/D_min) or "swarm" (N·F/(U_s+ΣU_i)).
	Term string `json:"tstar_term,omitempty"`
	// OneServer is the time of the seeders sending every receiver its own
	// copy: max(N·F/U_s, F/D_min).
	OneServer float64 `json:"one_server_seconds"`
}

// ComputeBound returns the Bound for a share of size bytes, seeders
// uploading seedUp bytes/s in all, and receivers with the given upload and
// download capacities (bytes/s; 0 is unknown, and an unknown download is
// left out of D_min). With no known seeder upload, or no receiver, it is
// all zero.
func ComputeBound(size int64, seedUp float64, up, down []float64) Bound {
	n := len(up)
	if size <= 0 || seedUp <= 0 || n == 0 {
		return Bound{}
	}
	f := float64(size)
	dmin := math.Inf(1)
	for _, d := range down {
		if d > 0 {
			dmin = min(dmin, d)
		}
	}
	total := seedUp
	for _, u := range up {
		total += u
	}
	b := Bound{TStar: f / seedUp, Term: "seeder"}
	if t := f / dmin; t > b.TStar {
		b.TStar, b.Term = t, "download"
	}
	if t := float64(n) * f / total; t > b.TStar {
		b.TStar, b.Term = t, "swarm"
	}
	b.OneServer = max(float64(n)*f/seedUp, f/dmin)
	return b
}
