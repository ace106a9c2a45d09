//go:build !unix && !windows

package main

import (
	"runtime"
	"runtime/metrics"
)

// selfCPUSource says how selfCPUSeconds counts.
const selfCPUSource = "Go runtime estimate for this process (runtime/metrics)"

// selfCPUSeconds is the CPU time this process has used so far, by the Go
// runtime's own estimate, for platforms that offer no count of their own:
// the time its Ps were available (GOMAXPROCS integrated over wall time)
// less the time they stood idle. It overestimates: on Linux it read 4.9 s
// where getrusage read 3.0 s. The runtime updates these counters when a
// garbage collection ends, so selfCPUSeconds runs one first.
func selfCPUSeconds() float64 {
	runtime.GC()
	s := []metrics.Sample{
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
	}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 || s[1].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s[0].Value.Float64() - s[1].Value.Float64()
}
