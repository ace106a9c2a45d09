package main

import (
	"syscall"
	"time"
)

// selfCPUSource says how selfCPUSeconds counts.
const selfCPUSource = "user+kernel of this process (GetProcessTimes)"

// selfCPUSeconds is the user and kernel CPU time this process has used so
// far, as Windows counts it.
func selfCPUSeconds() float64 {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0
	}
	var creation, exit, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	return (filetimeDuration(kernel) + filetimeDuration(user)).Seconds()
}

// filetimeDuration reads a Filetime holding a duration, in 100 ns units;
// Filetime.Nanoseconds would take it for a date.
func filetimeDuration(f syscall.Filetime) time.Duration {
	return time.Duration(uint64(f.HighDateTime)<<32|uint64(f.LowDateTime)) * 100
}
