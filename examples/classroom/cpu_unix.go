//go:build unix

package main

import (
	"syscall"
	"time"
)

// selfCPUSource says how selfCPUSeconds counts.
const selfCPUSource = "user+sys of this process (getrusage)"

// selfCPUSeconds is the user and system CPU time this process has used so
// far, as the kernel counts it.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds()
}
