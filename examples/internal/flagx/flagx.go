// Package flagx holds the flag.Value types the example programs share: byte
// counts and rates written the way people write them ("8MiB", "100K"), and
// string lists that may be repeated or comma-separated.
package flagx

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// units maps a suffix, lower-cased, to its multiplier. K, M and G are
// decimal (x1000), KiB, MiB and GiB binary (x1024), as on a network link
// and a disk respectively.
var units = map[string]float64{
	"":    1,
	"b":   1,
	"k":   1e3,
	"kb":  1e3,
	"m":   1e6,
	"mb":  1e6,
	"g":   1e9,
	"gb":  1e9,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

// ParseBytes parses a byte count: a non-negative number, perhaps with a
// fraction, and an optional unit: K, M, G (x1000) or KiB, MiB, GiB (x1024),
// in any case. The result is rounded to a whole byte.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.LastIndexAny(t, "0123456789.") + 1
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("byte count %q: unknown unit %q (want K, M, G, KiB, MiB or GiB)", s, t[i:])
	}
	if num == "" {
		return 0, fmt.Errorf("byte count %q: no number", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("byte count %q: %q is not a number", s, num)
	}
	if f < 0 {
		return 0, fmt.Errorf("byte count %q is negative", s)
	}
	v := math.Round(f * mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("byte count %q is too large", s)
	}
	return int64(v), nil
}

// FormatBytes writes n with a binary unit, to three significant figures
// below 1000 GiB: "8.00 MiB", "512 B", "1.50 GiB".
func FormatBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB"} {
		if math.Abs(f) < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	switch a := math.Abs(f); {
	case a < 9.995:
		return fmt.Sprintf("%.2f %s", f, unit)
	case a < 99.95:
		return fmt.Sprintf("%.1f %s", f, unit)
	}
	return fmt.Sprintf("%.0f %s", f, unit)
}

// ByteSize is a flag.Value holding a byte count, such as a file size.
type ByteSize int64

// String implements flag.Value.
func (b *ByteSize) String() string {
	if b == nil {
		return "0"
	}
	return compact(int64(*b))
}

// compact writes n as Set reads it, in the largest binary unit that divides
// it: 128MiB, not 134217728, in help texts and errors.
func compact(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// ByteRate is a flag.Value holding a rate in bytes per second, written as a
// byte count with an optional "/s": "8MiB", "500K/s". 0 means no cap.
type ByteRate int64

// String implements flag.Value.
func (r *ByteRate) String() string {
	if r == nil {
		return "0"
	}
	return compact(int64(*r))
}

// Set implements flag.Value.
func (r *ByteRate) Set(s string) error {
	n, err := ParseBytes(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return fmt.Errorf("rate %q: %w", s, err)
	}
	*r = ByteRate(n)
	return nil
}

// Strings is a flag.Value collecting strings from every use of the flag,
// each split at commas: "-x a,b -x c" holds a, b and c.
type Strings []string

// String implements flag.Value.
func (l *Strings) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set implements flag.Value.
func (l *Strings) Set(s string) error {
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// ReadArg returns a flag value, or the trimmed contents of the file it names
// when it starts with @ (an invite is long; a file keeps it out of shell
// history).
func ReadArg(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
