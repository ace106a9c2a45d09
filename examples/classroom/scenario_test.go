package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRatesSet(t *testing.T) {
	tests := []struct {
		name, in string
		want     rates
		str      string // String(), which Set must read back
		err      string
	}{
		{name: "one rate", in: "4MiB", want: rates{{Rate: 4 * mib}}, str: "4MiB"},
		{name: "per second", in: "4MiB/s", want: rates{{Rate: 4 * mib}}, str: "4MiB"},
		{name: "uncapped", in: "0", want: rates{{}}, str: "0"},
		{name: "groups", in: "20x1MiB,20x6MiB", want: rates{{20, 1 * mib}, {20, 6 * mib}}, str: "20x1MiB,20x6MiB"},
		{name: "spaces", in: " 2 x 512KiB , 1x1.5MiB", want: rates{{2, 512 << 10}, {1, 3 * mib / 2}}, str: "2x512KiB,1x1.5MiB"},
		{name: "odd rate", in: "3x1000", want: rates{{3, 1000}}, str: "3x1000"},
		{name: "zero count", in: "0x1MiB", err: "not a positive whole number"},
		{name: "bad count", in: "ax1MiB", err: "not a positive whole number"},
		{name: "bad rate", in: "2x8TiB", err: "unknown unit"},
		{name: "group without count", in: "20x1MiB,6MiB", err: "each needs a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rates
			err := r.Set(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Set(%q) = %v, %v; want an error containing %q", tt.in, r, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(r, tt.want) {
				t.Fatalf("Set(%q) = %v, want %v", tt.in, r, tt.want)
			}
			if got := r.String(); got != tt.str {
				t.Fatalf("String() = %q, want %q", got, tt.str)
			}
			var back rates
			if err := back.Set(r.String()); err != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("Set(String()) = %v, %v; want %v", back, err, r)
			}
		})
	}
}

func TestRatesPerLeecher(t *testing.T) {
	got, err := rates{{2, 1}, {1, 6}}.perLeecher(3)
	if err != nil || !reflect.DeepEqual(got, []int64{1, 1, 6}) {
		t.Errorf("perLeecher(3) = %v, %v; want [1 1 6]", got, err)
	}
	got, err = uniform(4).perLeecher(3)
	if err != nil || !reflect.DeepEqual(got, []int64{4, 4, 4}) {
		t.Errorf("uniform perLeecher(3) = %v, %v; want [4 4 4]", got, err)
	}
	if _, err := (rates{{20, 1}, {20, 6}}).perLeecher(8); err == nil || !strings.Contains(err.Error(), "name 40 leechers, not 8") {
		t.Errorf("perLeecher with counts of 40 for 8: %v, want an error", err)
	}
}

func TestRatesSpread(t *testing.T) {
	s4 := rates{{20, 1}, {20, 6}}
	tests := []struct {
		name string
		r    rates
		n    int
		want rates
	}{
		{name: "same", r: s4, n: 40, want: s4},
		{name: "half", r: s4, n: 8, want: rates{{4, 1}, {4, 6}}},
		{name: "odd", r: s4, n: 5, want: rates{{3, 1}, {2, 6}}},
		{name: "one", r: s4, n: 1, want: rates{{1, 1}}},
		{name: "uneven", r: rates{{1, 1}, {3, 2}}, n: 6, want: rates{{2, 1}, {4, 2}}},
		{name: "uniform", r: uniform(4), n: 7, want: uniform(4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.spread(tt.n)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%v.spread(%d) = %v, want %v", tt.r, tt.n, got, tt.want)
			}
			if _, err := got.perLeecher(tt.n); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestResolve parses the command's flags as run does and checks the
// parameters a run gets.
func TestResolve(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		want       params
		ups, downs []int64
		timeout    time.Duration
		err        string
	}{
		{name: "defaults are S2", args: nil,
			want:    params{Scale: 1, Mode: "processes", GoAhead: true, Shaping: "app", Leechers: 30, FileBytes: 128 * mib, SeedUp: 8 * mib, Up: rates{{30, 4 * mib}}, Down: rates{{30, 8 * mib}}},
			timeout: 10 * time.Minute},
		{name: "s4", args: []string{"-scenario", "S4"},
			want: params{Scenario: "s4", Scale: 1, Mode: "processes", GoAhead: true, Shaping: "app", Leechers: 40, FileBytes: 128 * mib, SeedUp: 8 * mib,
				Up: rates{{20, 1 * mib}, {20, 6 * mib}}, Down: rates{{40, 8 * mib}}},
			timeout: 10 * time.Minute},
		{name: "s4 small, scaled, in one process", args: []string{"-scenario", "s4", "-n", "4", "-scale", "0.5", "-inprocess"},
			want: params{Scenario: "s4", Scale: 0.5, Mode: "goroutines", GoAhead: true, Shaping: "app", Leechers: 4, FileBytes: 128 * mib, SeedUp: 4 * mib,
				Up: rates{{2, mib / 2}, {2, 3 * mib}}, Down: rates{{4, 4 * mib}}},
			ups: []int64{mib / 2, mib / 2, 3 * mib, 3 * mib}, downs: []int64{4 * mib, 4 * mib, 4 * mib, 4 * mib},
			timeout: 10 * time.Minute},
		{name: "flags beat the scenario", args: []string{"-scenario", "quiz", "-size", "1MiB", "-up", "1MiB", "-timeout", "5s", "-settle", "0s"},
			want: params{Scenario: "quiz", Scale: 1, Mode: "processes", GoAhead: true, Shaping: "app", Leechers: 50, FileBytes: 1 * mib, SeedUp: 8 * mib,
				Up: rates{{50, 1 * mib}}, Down: rates{{50, 8 * mib}}},
			timeout: 5 * time.Second},
		{name: "the quiz waits for the joins to settle", args: []string{"-scenario", "quiz"},
			want: params{Scenario: "quiz", Scale: 1, Mode: "processes", GoAhead: true, Shaping: "app", Leechers: 50, FileBytes: 2 * mib, SeedUp: 8 * mib,
				Up: rates{{50, 4 * mib}}, Down: rates{{50, 8 * mib}}, Settle: 5},
			timeout: 10 * time.Minute},
		{name: "negative settle", args: []string{"-settle", "-1s"}, err: "-settle -1s is negative"},
		{name: "kernel shaping, no go-ahead", args: []string{"-scenario", "quiz", "-shaping", "tc", "-go-ahead=false"},
			want: params{Scenario: "quiz", Scale: 1, Mode: "processes", Shaping: "tc", Leechers: 50, FileBytes: 2 * mib, SeedUp: 8 * mib,
				Up: rates{{50, 4 * mib}}, Down: rates{{50, 8 * mib}}},
			timeout: 10 * time.Minute},
		{name: "settle without a go-ahead", args: []string{"-go-ahead=false", "-settle", "2s"}, err: "-settle 2s: with -go-ahead=false there is no go-ahead to wait for"},
		{name: "unknown shaping", args: []string{"-shaping", "netem"}, err: `-shaping "netem": want app or tc`},
		{name: "kernel shaping in one process", args: []string{"-shaping", "tc", "-inprocess"},
			err: "-shaping tc runs every node as a process in a network namespace of its own; drop -inprocess"},
		{name: "an added round trip", args: []string{"-scenario", "s2", "-shaping", "tc", "-go-ahead=false", "-rtt", "20ms"},
			want: params{Scenario: "s2", Scale: 1, Mode: "processes", Shaping: "tc", RTT: 0.02, Leechers: 30, FileBytes: 128 * mib, SeedUp: 8 * mib,
				Up: rates{{30, 4 * mib}}, Down: rates{{30, 8 * mib}}},
			timeout: 10 * time.Minute},
		{name: "rtt without tc", args: []string{"-rtt", "2ms"}, err: "-rtt 2ms needs -shaping tc: the delay is added by the kernel, in each node's network namespace"},
		{name: "negative rtt", args: []string{"-shaping", "tc", "-rtt", "-2ms"}, err: "-rtt -2ms is negative"},
		{name: "rtt too small", args: []string{"-shaping", "tc", "-rtt", "10us"}, err: "-rtt 10µs: want 100µs to 1s"},
		{name: "rtt too large", args: []string{"-shaping", "tc", "-rtt", "2s"}, err: "-rtt 2s: want 100µs to 1s"},
		// S3 scaled by 0.1 has T* = 640 s: the timeout grows to 10·T*.
		{name: "slow class gets time", args: []string{"-scenario", "s3", "-scale", "0.1"},
			want: params{Scenario: "s3", Scale: 0.1, Mode: "processes", GoAhead: true, Shaping: "app", Leechers: 30, FileBytes: 128 * mib, SeedUp: 1677722,
				Up: rates{{30, 209715}}, Down: rates{{30, 209715}}},
			timeout: 6400 * time.Second},
		{name: "unknown scenario", args: []string{"-scenario", "s9"}, err: `-scenario "s9": want one of s2, s3, s4, quiz`},
		{name: "groups must match -n", args: []string{"-n", "8", "-up", "20x1MiB,20x6MiB"}, err: "-up: rates 20x1MiB,20x6MiB name 40 leechers, not 8"},
		{name: "bad scale", args: []string{"-scale", "0"}, err: "-scale 0 is not positive"},
		{name: "no leechers", args: []string{"-n", "0"}, err: "-n 0: want at least 1 leecher"},
		{name: "argument", args: []string{"extra"}, err: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			fs := flag.NewFlagSet("classroom", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			p, err := o.resolve(fs)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("resolve: %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.ups != nil && (!reflect.DeepEqual(p.ups, tt.ups) || !reflect.DeepEqual(p.downs, tt.downs)) {
				t.Errorf("per leecher: up %v, down %v; want %v, %v", p.ups, p.downs, tt.ups, tt.downs)
			}
			if len(p.ups) != p.Leechers || len(p.downs) != p.Leechers {
				t.Errorf("%d and %d caps for %d leechers", len(p.ups), len(p.downs), p.Leechers)
			}
			p.ups, p.downs = nil, nil
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("params\n got %+v\nwant %+v", p, tt.want)
			}
			if o.timeout != tt.timeout {
				t.Errorf("timeout %v, want %v", o.timeout, tt.timeout)
			}
		})
	}
}

// TestFlagsFromEnvironment: the classroom's flags come from P2PSHARE_*
// variables too, the command line winning, as every example's do; a bad
// value names its variable.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("P2PSHARE_N", "many")
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-scenario", "quiz"}, &out, f); code != 2 {
		t.Fatalf("exit %d, want 2 for a bad P2PSHARE_N", code)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `P2PSHARE_N="many" (for -n)`) {
		t.Errorf("the error does not name the variable:\n%s", b)
	}
	if !strings.Contains(string(b), "P2PSHARE_INVITE for -invite") {
		t.Errorf("the usage says nothing of the environment:\n%s", b)
	}
}
