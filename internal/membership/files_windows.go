//go:build windows

package membership

// isSyncUnsupported reports whether fsync on a directory failed only because
// the platform cannot do it: Windows cannot fsync a directory handle.
func isSyncUnsupported(error) bool { return true }
