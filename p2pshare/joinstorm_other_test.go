//go:build !linux

package p2pshare

import "errors"

// runBootstrapChild serves BenchmarkJoinStorm, which runs on Linux only.
func runBootstrapChild() error {
	return errors.New("the join-storm bootstrap child runs on Linux only")
}
