package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// machineCPU is the whole machine's CPU time so far, in the kernel's ticks,
// summed over its cores: busy (user, nice, system, irq, softirq, steal)
// and in total (busy, idle and iowait).
type machineCPU struct {
	busy, total uint64
}

// readMachineCPU reads the machine's CPU time from /proc/stat. It fails
// where there is no /proc/stat (outside Linux).
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseProcStat(b)
}

// parseProcStat reads the summary "cpu" line of /proc/stat: "cpu" and at
// least the four counters user, nice, system and idle; later kernels add
// iowait, irq, softirq, steal and the guest times (already counted in user
// and nice, so left out).
func parseProcStat(b []byte) (machineCPU, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || string(f[0]) != "cpu" {
			continue
		}
		if len(f) < 5 {
			return machineCPU{}, fmt.Errorf("/proc/stat: the cpu line has %d counters, want at least 4", len(f)-1)
		}
		var m machineCPU
		for k, s := range f[1:min(len(f), 9)] {
			v, err := strconv.ParseUint(string(s), 10, 64)
			if err != nil {
				return machineCPU{}, fmt.Errorf("/proc/stat: cpu counter %d: %w", k+1, err)
			}
			if v > 1<<62 || m.total > 1<<62 {
				return machineCPU{}, fmt.Errorf("/proc/stat: the cpu counters overflow at counter %d", k+1)
			}
			m.total += v
			if k != 3 && k != 4 { // idle, iowait
				m.busy += v
			}
		}
		return m, nil
	}
	if err := sc.Err(); err != nil {
		return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
	}
	return machineCPU{}, errors.New("/proc/stat: no cpu line")
}

// busySince is the share of the machine's CPU time that was busy between
// an earlier reading and m, 0 to 1; 0 if no time passed.
func (m machineCPU) busySince(earlier machineCPU) float64 {
	if m.total <= earlier.total || m.busy < earlier.busy {
		return 0
	}
	return min(1, float64(m.busy-earlier.busy)/float64(m.total-earlier.total))
}

// cpuBound is how busy the machine may be, from the go-ahead to the last
// leecher done, before the summary says the CPU rather than the caps may
// have set the pace.
const cpuBound = 0.9
