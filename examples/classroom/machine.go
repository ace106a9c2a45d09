package main

import (
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
	cores       int // the per-core lines that follow the sum
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
// and nice, so left out). It counts the cores by the "cpuN" lines.
func parseProcStat(b []byte) (machineCPU, error) {
	var m machineCPU
	found := false
	for rest := b; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		f := bytes.Fields(line)
		if found && (len(f) == 0 || !bytes.HasPrefix(f[0], []byte("cpu"))) {
			break // the cpu lines are done
		}
		if len(f) > 0 && len(f[0]) > 3 && bytes.HasPrefix(f[0], []byte("cpu")) {
			if _, err := strconv.ParseUint(string(f[0][3:]), 10, 32); err == nil {
				m.cores++
			}
		}
		if len(f) == 0 || string(f[0]) != "cpu" || found {
			continue
		}
		found = true
		if len(f) < 5 {
			return machineCPU{}, fmt.Errorf("/proc/stat: the cpu line has %d counters, want at least 4", len(f)-1)
		}
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
	}
	if !found {
		return machineCPU{}, errors.New("/proc/stat: no cpu line")
	}
	return m, nil
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
