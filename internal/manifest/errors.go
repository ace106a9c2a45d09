package manifest

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Sentinel errors. Every error this package returns wraps one of them (test
// with errors.Is) and carries a message that names the problem and the value.
var (
	// ErrInvalid marks a manifest or path that breaks a rule of Validate or ValidPath.
	ErrInvalid = errors.New("manifest: invalid")
	// ErrTooLarge marks an encoding longer than the decoder's cap.
	ErrTooLarge = errors.New("manifest: too large")
	// ErrBadMagic marks bytes that do not start with the manifest magic.
	ErrBadMagic = errors.New("manifest: bad magic")
	// ErrVersion marks an encoding version this package does not know.
	ErrVersion = errors.New("manifest: unknown version")
	// ErrTruncated marks an encoding that ends before its last field.
	ErrTruncated = errors.New("manifest: truncated")
	// ErrTrailingBytes marks an encoding with bytes after its last field.
	ErrTrailingBytes = errors.New("manifest: trailing bytes")
	// ErrNonCanonical marks an encoding that would decode but is not the one
	// canonical form (a varint not in its shortest form), which would give
	// the same manifest a second infohash.
	ErrNonCanonical = errors.New("manifest: non-canonical encoding")
	// ErrUnsupportedFile marks a symbolic link, device, socket or pipe that
	// Build met; a share holds only regular files and folders.
	ErrUnsupportedFile = errors.New("manifest: unsupported file type")
	// ErrBadInfohash marks a string or CID that is not a p2pshare infohash.
	ErrBadInfohash = errors.New("manifest: bad infohash")
	// ErrInfohashMismatch marks bytes that do not hash to the expected infohash.
	ErrInfohashMismatch = errors.New("manifest: infohash mismatch")
)

// detailError wraps a sentinel with a full message, so that the message reads
// "manifest: piece size 3 is not a power of two" rather than repeating the
// sentinel's own text, while errors.Is still finds the sentinel.
type detailError struct {
	sentinel error
	msg      string
}

func (e *detailError) Error() string { return "manifest: " + e.msg }
func (e *detailError) Unwrap() error { return e.sentinel }

// errorf returns an error wrapping sentinel whose message is "manifest: "
// followed by the formatted detail.
func errorf(sentinel error, format string, args ...any) error {
	return &detailError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}

// maxQuoted is how many bytes of an offending value an error message shows.
const maxQuoted = 80

// quote renders s for an error message: Go-quoted, cut to about maxQuoted
// bytes on a rune boundary so a hostile 4 KiB path cannot flood a log.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:cut], len(s))
}
