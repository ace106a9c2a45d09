package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

const mib = 1 << 20

// scenario is a named class from ../shared/DESIGN.md §4 and issue 5: what
// -scenario sets, unless a flag of its own says otherwise.
type scenario struct {
	name, about  string
	n            int
	size, seedUp int64
	up, down     rates
	settle       time.Duration // between the last join and the go-ahead
}

// scenarios lists the named classes. It is a function, not a variable, so
// that nothing can change the table.
func scenarios() []scenario {
	return []scenario{
		{name: "s2", about: "the default class", n: 30, size: 128 * mib, seedUp: 8 * mib,
			up: uniform(4 * mib), down: uniform(8 * mib)},
		{name: "s3", about: "slow student links", n: 30, size: 128 * mib, seedUp: 16 * mib,
			up: uniform(2 * mib), down: uniform(2 * mib)},
		{name: "s4", about: "half the class uploads slowly", n: 40, size: 128 * mib, seedUp: 8 * mib,
			up: rates{{Count: 20, Rate: 1 * mib}, {Count: 20, Rate: 6 * mib}}, down: uniform(8 * mib)},
		// The exam app's students are in the network minutes before the
		// quiz goes out; a join leaves a few seconds of DHT work behind.
		{name: "quiz", about: "a 2 MiB quiz to 50 at the same minute", n: 50, size: 2 * mib, seedUp: 8 * mib,
			up: uniform(4 * mib), down: uniform(8 * mib), settle: 5 * time.Second},
	}
}

func scenarioNamed(name string) (scenario, error) {
	var names []string
	for _, s := range scenarios() {
		if s.name == strings.ToLower(name) {
			return s, nil
		}
		names = append(names, s.name)
	}
	return scenario{}, fmt.Errorf("-scenario %q: want one of %s", name, strings.Join(names, ", "))
}

// scenarioHelp is the list of scenarios for the usage text.
func scenarioHelp() string {
	var b strings.Builder
	for _, s := range scenarios() {
		p, _ := s.params(1)
		fmt.Fprintf(&b, "  %-5s N=%d F=%s U_s=%s U=%s D=%s (T* %.3gs): %s\n", s.name, s.n,
			formatRate(s.size), formatRate(s.seedUp), s.up.String(), s.down.String(), boundsOf(p).TStar, s.about)
	}
	return b.String()
}

// rateGroup is Count leechers capped at Rate bytes/s; a Rate of 0 is no
// cap. A Count of 0, only in a single group, means every leecher.
type rateGroup struct {
	Count int   `json:"count"`
	Rate  int64 `json:"rate"`
}

// rates is a flag.Value for the leechers' caps: one rate for all ("4MiB"),
// or groups COUNTxRATE separated by commas ("20x1MiB,20x6MiB") whose counts
// add up to the number of leechers.
type rates []rateGroup

func uniform(rate int64) rates { return rates{{Rate: rate}} }

// String implements flag.Value, in the form Set reads.
func (r *rates) String() string {
	if r == nil {
		return ""
	}
	parts := make([]string, 0, len(*r))
	for _, g := range *r {
		s := formatRate(g.Rate)
		if g.Count > 0 {
			s = strconv.Itoa(g.Count) + "x" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (r *rates) Set(s string) error {
	var out rates
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		var g rateGroup
		count, rate, grouped := strings.Cut(part, "x")
		if !grouped {
			rate = part
		} else {
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if err != nil || n < 1 {
				return fmt.Errorf("rate group %q: count %q is not a positive whole number", part, count)
			}
			g.Count = n
		}
		var br flagx.ByteRate
		if err := br.Set(rate); err != nil {
			return err
		}
		g.Rate = int64(br)
		out = append(out, g)
	}
	if len(out) > 1 {
		for _, g := range out {
			if g.Count == 0 {
				return fmt.Errorf("rates %q: with more than one group, each needs a count, as in 20x1MiB,20x6MiB", s)
			}
		}
	}
	*r = out
	return nil
}

// perLeecher is one cap per leecher, in group order; it fails unless the
// groups' counts add up to n.
func (r rates) perLeecher(n int) ([]int64, error) {
	if len(r) == 1 && r[0].Count == 0 {
		out := make([]int64, n)
		for i := range out {
			out[i] = r[0].Rate
		}
		return out, nil
	}
	var out []int64
	for _, g := range r {
		for range g.Count {
			out = append(out, g.Rate)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("rates %s name %d leechers, not %d", r.String(), len(out), n)
	}
	return out, nil
}

// display writes the caps for a person: "4MiB/s", "20×1MiB/s + 20×6MiB/s",
// "uncapped".
func (r rates) display() string {
	parts := make([]string, 0, len(r))
	for _, g := range r {
		s := formatRate(g.Rate) + "/s"
		if g.Rate == 0 {
			s = "uncapped"
		}
		if len(r) > 1 {
			s = fmt.Sprintf("%d×%s", g.Count, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " + ")
}

// counted writes a single group for every leecher with its count, n.
func (r rates) counted(n int) rates {
	if len(r) == 1 && r[0].Count == 0 {
		return rates{{Count: n, Rate: r[0].Rate}}
	}
	return r
}

// spread rescales the groups' counts to add up to n, in proportion, by
// largest remainder: how a scenario's mix follows -n.
func (r rates) spread(n int) rates {
	total := 0
	for _, g := range r {
		total += g.Count
	}
	if total == 0 || total == n {
		return r
	}
	out := make(rates, len(r))
	left := n
	rem := make([]float64, len(r))
	for i, g := range r {
		share := float64(g.Count) * float64(n) / float64(total)
		out[i] = rateGroup{Count: int(share), Rate: g.Rate}
		rem[i] = share - math.Floor(share)
		left -= out[i].Count
	}
	for ; left > 0; left-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best].Count++
		rem[best] = -1
	}
	kept := out[:0]
	for _, g := range out {
		if g.Count > 0 {
			kept = append(kept, g)
		}
	}
	return kept
}

// scaled multiplies every rate by x, rounding to a whole byte.
func (r rates) scaled(x float64) rates {
	out := make(rates, len(r))
	for i, g := range r {
		out[i] = rateGroup{Count: g.Count, Rate: scaleRate(g.Rate, x)}
	}
	return out
}

func scaleRate(rate int64, x float64) int64 { return int64(math.Round(float64(rate) * x)) }

// formatRate writes a rate compactly, in a form ByteRate reads back:
// "4MiB", "1.5MiB", "512KiB", "1000".
func formatRate(b int64) string {
	switch {
	case b >= mib && b%(mib/4) == 0:
		return strconv.FormatFloat(float64(b)/mib, 'f', -1, 64) + "MiB"
	case b >= 1<<10 && b%(1<<10) == 0:
		return strconv.FormatInt(b>>10, 10) + "KiB"
	}
	return strconv.FormatInt(b, 10)
}
