package main

import "os"

// processCPUSeconds is the user and system CPU time of a process that has
// exited, as the operating system counted it.
func processCPUSeconds(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}
