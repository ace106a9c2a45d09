package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        string
		busy, all uint64
		cores     int
		err       string
	}{
		{name: "a current kernel", // user nice system idle iowait irq softirq steal guest guest_nice
			in:   "cpu  100 5 50 800 20 3 2 10 7 1\ncpu0 50 2 25 400 10 1 1 5 3 0\nintr 1 2 3\n",
			busy: 100 + 5 + 50 + 3 + 2 + 10, all: 100 + 5 + 50 + 800 + 20 + 3 + 2 + 10, cores: 1},
		{name: "a long line after the cpu lines", in: "cpu 1 1 1 1\ncpu0 1 1 1 1\nintr " + strings.Repeat("0 ", 70000) + "\n", busy: 3, all: 4, cores: 1},
		{name: "two cores", in: "cpu 2 0 2 4\ncpu0 1 0 1 2\ncpu1 1 0 1 2\ncpuX 1\n", busy: 4, all: 8, cores: 2},
		{name: "an old kernel's four counters", in: "cpu 10 0 5 85\n", busy: 15, all: 100},
		{name: "the cpu line after others", in: "btime 1\ncpu 1 1 1 1 0\n", busy: 3, all: 4},
		{name: "no cpu line", in: "cpu0 1 2 3 4\n", err: "no cpu line"},
		{name: "too few counters", in: "cpu 1 2 3\n", err: "3 counters"},
		{name: "not a number", in: "cpu 1 2 x 4\n", err: "counter 3"},
		{name: "negative", in: "cpu 1 -2 3 4\n", err: "counter 2"},
		{name: "out of range", in: "cpu 1 2 3 18446744073709551615\n", err: "overflow"},
		{name: "empty", in: "", err: "no cpu line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := parseProcStat([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.busy != c.busy || m.total != c.all || m.cores != c.cores {
				t.Fatalf("busy %d of %d over %d cores, want %d of %d over %d", m.busy, m.total, m.cores, c.busy, c.all, c.cores)
			}
		})
	}
}

func TestBusySince(t *testing.T) {
	a := machineCPU{busy: 100, total: 400}
	for _, c := range []struct {
		b    machineCPU
		want float64
	}{
		{machineCPU{busy: 190, total: 500}, 0.9},
		{machineCPU{busy: 100, total: 500}, 0},
		{machineCPU{busy: 100, total: 400}, 0}, // no time passed
		{machineCPU{busy: 90, total: 500}, 0},  // a counter went back
	} {
		if got := c.b.busySince(a); got != c.want {
			t.Errorf("%+v since %+v = %v, want %v", c.b, a, got, c.want)
		}
	}
}

// TestReadMachineCPU reads this machine's counters where it has them: they
// only grow, and busy never passes the total.
func TestReadMachineCPU(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat here")
	}
	a, err := readMachineCPU()
	if err != nil {
		t.Fatal(err)
	}
	b, err := readMachineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if a.busy > a.total || b.busy > b.total || b.total < a.total || b.busy < a.busy || b.cores < 1 {
		t.Fatalf("counters %+v then %+v", a, b)
	}
	if f := b.busySince(a); f < 0 || f > 1 {
		t.Fatalf("busy share %v", f)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("cpu  100 5 50 800 20 3 2 10 7 1\ncpu0 50 2 25 400 10 1 1 5 3 0\n"))
	f.Add([]byte("cpu 1 2 3\n"))
	f.Add([]byte("cpu 1 2 3 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseProcStat(b)
		if err == nil && m.busy > m.total {
			t.Fatalf("busy %d over total %d", m.busy, m.total)
		}
	})
}
