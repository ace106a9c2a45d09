//go:build !windows

package membership

// isSyncUnsupported reports whether fsync on a directory failed only because
// the platform cannot do it.
func isSyncUnsupported(error) bool { return false }
