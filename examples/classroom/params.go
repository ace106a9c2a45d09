package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/classweb"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

// params are a run's resolved parameters: a scenario's values where no flag
// overrides them, every rate multiplied by -scale, one cap per leecher.
type params struct {
	Scenario  string  `json:"scenario,omitempty"`
	Scale     float64 `json:"scale"`
	Mode      string  `json:"mode"` // processes or goroutines
	Leechers  int     `json:"leechers"`
	FileBytes int64   `json:"file_bytes"`
	SeedUp    int64   `json:"seed_up"` // bytes/s; 0 is uncapped
	Up        rates   `json:"up"`      // the leechers' upload caps, in groups
	Down      rates   `json:"down"`    // their download caps, in groups
	// Settle is how long the class waited between the last leecher's join
	// and the go-ahead, in seconds.
	Settle float64 `json:"settle_seconds"`
	// GoAhead says the leechers fetched at one go-ahead once the whole
	// class had joined; false: each as soon as it had joined.
	GoAhead bool `json:"go_ahead"`
	// Shaping is how the caps were enforced: app (told to the nodes) or
	// tc (by the kernel, the nodes in network namespaces named Netns*).
	Shaping string `json:"shaping"`
	Netns   string `json:"netns_prefix,omitempty"`
	// RTT is the round trip added between any two nodes, in seconds (0:
	// none): under -shaping tc, each packet that enters a node is held
	// RTT/2 (NFQUEUE and a releaser in its namespace).
	RTT float64 `json:"added_rtt_seconds"`
	// SeedBudget is how many copies of the file the seeder uploads before
	// it leaves the class to itself (ShareOptions.UploadBudget); 0: none.
	SeedBudget float64 `json:"seed_budget,omitempty"`

	ups, downs []int64 // one cap per leecher, in node order
}

// resolve applies -scenario and -scale to the flags and checks the result.
func (o *options) resolve(fs *flag.FlagSet) (params, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return params{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.scale <= 0:
		return params{}, fmt.Errorf("-scale %v is not positive", o.scale)
	case o.http != "" && o.shaping == shapingTC:
		return params{}, fmt.Errorf("-http %s: under -shaping tc the seeder runs in a network namespace of its own, where this machine's browser does not reach it", o.http)
	}
	if o.http != "" {
		host, port, err := net.SplitHostPort(o.http)
		if err != nil {
			return params{}, fmt.Errorf("-http %q: want host:port or :port (%v)", o.http, err)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		if o.http = net.JoinHostPort(host, port); !classweb.IsLoopbackAddr(o.http) {
			return params{}, fmt.Errorf("-http %s is not a loopback address: the class page answers this machine only", o.http)
		}
	}
	if o.scenario != "" {
		sc, err := scenarioNamed(o.scenario)
		if err != nil {
			return params{}, err
		}
		o.scenario = sc.name
		if !set["n"] {
			o.n = sc.n
		}
		if !set["size"] {
			o.size = flagx.ByteSize(sc.size)
		}
		if !set["seed-up"] {
			o.seedUp = flagx.ByteRate(sc.seedUp)
		}
		// A scenario's mix of caps follows -n in proportion.
		if !set["up"] {
			o.up = sc.up.spread(o.n)
		}
		if !set["down"] {
			o.down = sc.down.spread(o.n)
		}
		if !set["settle"] && o.goAhead {
			o.settle = sc.settle
		}
	}
	switch {
	case o.n < 1:
		return params{}, fmt.Errorf("-n %d: want at least 1 leecher", o.n)
	case o.size < 1:
		return params{}, fmt.Errorf("-size %d: want at least 1 byte", o.size)
	case o.timeout <= 0:
		return params{}, fmt.Errorf("-timeout %v is not positive", o.timeout)
	case o.settle < 0:
		return params{}, fmt.Errorf("-settle %v is negative", o.settle)
	case o.settle > 0 && !o.goAhead:
		return params{}, fmt.Errorf("-settle %v: with -go-ahead=false there is no go-ahead to wait for", o.settle)
	case o.shaping != shapingApp && o.shaping != shapingTC:
		return params{}, fmt.Errorf("-shaping %q: want app or tc", o.shaping)
	case o.shaping == shapingTC && o.inprocess:
		return params{}, errors.New("-shaping tc runs every node as a process in a network namespace of its own; drop -inprocess")
	case o.rtt < 0:
		return params{}, fmt.Errorf("-rtt %v is negative", o.rtt)
	case o.rtt > 0 && o.shaping != shapingTC:
		return params{}, fmt.Errorf("-rtt %v needs -shaping tc: the delay is added by the kernel, in each node's network namespace", o.rtt)
	case o.rtt > 0 && (o.rtt < minRTT || o.rtt > maxRTT):
		return params{}, fmt.Errorf("-rtt %v: want %v to %v", o.rtt, minRTT, maxRTT)
	case !(o.seedBudget >= 0) || math.IsInf(o.seedBudget, 0):
		return params{}, fmt.Errorf("-seed-budget %v: want 0 (none) or a number of copies above 0", o.seedBudget)
	}
	p := params{
		Scenario: o.scenario, Scale: o.scale, Mode: "processes",
		Leechers: o.n, FileBytes: int64(o.size), SeedUp: scaleRate(int64(o.seedUp), o.scale),
		Up: o.up.scaled(o.scale), Down: o.down.scaled(o.scale), Settle: o.settle.Seconds(),
		SeedBudget: o.seedBudget, GoAhead: o.goAhead, Shaping: o.shaping, RTT: o.rtt.Seconds(),
	}
	if o.inprocess {
		p.Mode = "goroutines"
	}
	var err error
	if p.ups, err = p.Up.perLeecher(o.n); err != nil {
		return params{}, fmt.Errorf("-up: %w", err)
	}
	if p.downs, err = p.Down.perLeecher(o.n); err != nil {
		return params{}, fmt.Errorf("-down: %w", err)
	}
	p.Up, p.Down = p.Up.counted(o.n), p.Down.counted(o.n)
	// A slow class gets time in proportion, unless -timeout says otherwise.
	if t := time.Duration(10 * boundsOf(p).TStar * float64(time.Second)).Round(time.Second); !set["timeout"] && t > o.timeout {
		o.timeout = t
	}
	return p, nil
}

// params are the scenario's parameters, its rates multiplied by scale.
func (s scenario) params(scale float64) (params, error) {
	p := params{Scenario: s.name, Scale: scale, Leechers: s.n, FileBytes: s.size,
		SeedUp: scaleRate(s.seedUp, scale), Up: s.up.scaled(scale), Down: s.down.scaled(scale)}
	var err error
	if p.ups, err = p.Up.perLeecher(s.n); err != nil {
		return p, err
	}
	p.downs, err = p.Down.perLeecher(s.n)
	return p, err
}

// bounds are T* and its terms, and the client-server time, in seconds. A
// term that an uncapped (0) rate makes meaningless is 0.
type bounds struct {
	Seed         float64 // F/U_s: the seeder must send every byte once
	Down         float64 // F/D_min: the slowest leecher must take every byte in
	Swarm        float64 // N·F/(U_s+ΣU_i): the class's whole upload must move N·F
	TStar        float64 // the largest: the least makespan any schedule allows
	ClientServer float64 // N·F/U_s: one server sending to everyone
}

// boundsOf computes the bounds with each leecher's own caps.
func boundsOf(p params) bounds {
	f, n := float64(p.FileBytes), float64(p.Leechers)
	us := float64(p.SeedUp)
	b := bounds{Seed: per(f, us), ClientServer: per(n*f, us)}
	var dmin int64
	for _, d := range p.downs {
		if d > 0 && (dmin == 0 || d < dmin) {
			dmin = d
		}
	}
	b.Down = per(f, float64(dmin))
	sum, capped := us, p.SeedUp > 0
	for _, u := range p.ups {
		sum += float64(u)
		capped = capped && u > 0
	}
	if capped {
		b.Swarm = per(n*f, sum)
	}
	b.TStar = max(b.Seed, b.Down, b.Swarm)
	return b
}

// per is a/b, or 0 when b is 0: a capacity that is not capped.
func per(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
