package manifest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidPath reports whether p may be the Path of an entry in a folder share,
// and if not, why. The rules keep every share safe to write to disk on Linux,
// macOS and Windows alike: p is relative and slash-separated, at most
// MaxPathLen bytes of valid UTF-8, with no empty, "." or ".." component, and
// each component at most MaxNameLen bytes with no backslash, colon or control
// character, not ending in a dot or space, and not a Windows device name such
// as CON or lpt1.txt.
func ValidPath(p string) error {
	if prob := pathProblem(p); prob != "" {
		return errorf(ErrInvalid, "path %s %s", quote(p), prob)
	}
	return nil
}

// pathProblem returns what is wrong with p as an entry path, phrased to follow
// the path in a sentence, or "" if p is valid.
func pathProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case len(p) > MaxPathLen:
		return fmt.Sprintf("is %d bytes, over the %d-byte limit", len(p), MaxPathLen)
	case !utf8.ValidString(p):
		return "is not valid UTF-8"
	case p[0] == '/':
		return "is absolute"
	case p[len(p)-1] == '/':
		return "ends in a slash"
	}
	for rest := p; ; {
		comp, tail, more := strings.Cut(rest, "/")
		if prob := componentProblem(comp); prob != "" {
			if comp == "" {
				return "has an empty component"
			}
			return fmt.Sprintf("has component %s that %s", quote(comp), prob)
		}
		if !more {
			return ""
		}
		rest = tail
	}
}

// componentProblem returns what is wrong with c as one path component (or as
// a share's Name), phrased to follow "that", or "" if c is valid.
func componentProblem(c string) string {
	switch {
	case c == "":
		return "is empty"
	case len(c) > MaxNameLen:
		return fmt.Sprintf("is %d bytes, over the %d-byte limit", len(c), MaxNameLen)
	case c == "." || c == "..":
		return "is a relative reference"
	case !utf8.ValidString(c):
		return "is not valid UTF-8"
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b == '/':
			return "contains a slash"
		case b == '\\':
			return "contains a backslash"
		case b == ':':
			return "contains a colon"
		case b < 0x20 || b == 0x7f:
			return fmt.Sprintf("contains control character 0x%02x", b)
		}
	}
	if last := c[len(c)-1]; last == '.' || last == ' ' {
		return "ends in a dot or space"
	}
	if isWindowsDevice(c) {
		return "is a reserved Windows device name"
	}
	return ""
}

// isWindowsDevice reports whether Windows would open a device rather than a
// file for component c: CON, PRN, AUX, NUL, COM1-9, LPT1-9 (and the
// superscript-digit forms), CONIN$ and CONOUT$, in any case, alone or
// followed by an extension, ignoring trailing spaces before the extension.
// Recent Windows versions allow "CON.txt", older ones do not; we refuse it.
func isWindowsDevice(c string) bool {
	base, _, _ := strings.Cut(c, ".")
	base = strings.TrimRight(base, " ")
	if len(base) < 3 || len(base) > len("CONOUT$") {
		return false
	}
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) < 4 {
		return false
	}
	switch strings.ToUpper(base[:3]) {
	case "COM", "LPT":
	default:
		return false
	}
	switch base[3:] {
	case "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
		return true
	}
	return false
}
