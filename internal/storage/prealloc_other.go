//go:build !linux

package storage

import "os"

// preallocate reserves nothing outside Linux: the file stays sparse.
func preallocate(*os.File, int64) {}
