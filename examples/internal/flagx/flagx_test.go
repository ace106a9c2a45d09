package flagx

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestByteRate(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		err      string // a substring of the error; empty means none
	}{
		{name: "plain", in: "1000", want: 1000},
		{name: "zero", in: "0", want: 0},
		{name: "bytes unit", in: "512B", want: 512},
		{name: "kilo", in: "8K", want: 8000},
		{name: "kilo lower", in: "8k", want: 8000},
		{name: "kilobyte", in: "8KB", want: 8000},
		{name: "mega", in: "2M", want: 2_000_000},
		{name: "giga", in: "1G", want: 1_000_000_000},
		{name: "kibi", in: "8KiB", want: 8 << 10},
		{name: "mebi", in: "8MiB", want: 8 << 20},
		{name: "mebi any case", in: "8mib", want: 8 << 20},
		{name: "gibi", in: "2GiB", want: 2 << 30},
		{name: "fraction", in: "1.5MiB", want: 3 << 19},
		{name: "per second", in: "4MiB/s", want: 4 << 20},
		{name: "space before unit", in: "4 MiB", want: 4 << 20},
		{name: "rounds", in: "0.0001K", want: 0},
		{name: "empty", in: "", err: "no number"},
		{name: "unit only", in: "MiB", err: "no number"},
		{name: "unknown unit", in: "8TiB", err: `unknown unit "TiB"`},
		{name: "bits", in: "8Mbit", err: "unknown unit"},
		{name: "negative", in: "-1M", err: "negative"},
		{name: "not a number", in: "1.2.3M", err: "not a number"},
		{name: "too large", in: "99999999999GiB", err: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ByteRate
			err := r.Set(tt.in)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Set(%q): %v", tt.in, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Set(%q) = %d, %v; want an error containing %q", tt.in, r, err, tt.err)
			case tt.err == "" && int64(r) != tt.want:
				t.Fatalf("Set(%q) = %d, want %d", tt.in, r, tt.want)
			}
		})
	}
}

func TestByteSizeRefusesRateSuffix(t *testing.T) {
	var b ByteSize
	if err := b.Set("4MiB/s"); err == nil {
		t.Fatalf("ByteSize.Set(4MiB/s) = %d, want an error", b)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{-5, "-5 B"},
		{1024, "1.00 KiB"},
		{1023 << 10, "1023 KiB"},
		{8 << 20, "8.00 MiB"},
		{3 << 19, "1.50 MiB"},
		{50 << 20, "50.0 MiB"},
		{5 << 30, "5.00 GiB"},
		{3000 << 30, "3000 GiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Strings
	}{
		{name: "none", args: nil, want: nil},
		{name: "one", args: []string{"-x", "a"}, want: Strings{"a"}},
		{name: "repeated", args: []string{"-x", "a", "-x", "b"}, want: Strings{"a", "b"}},
		{name: "commas", args: []string{"-x", "a,b"}, want: Strings{"a", "b"}},
		{name: "both", args: []string{"-x", "a, b", "-x", "c,"}, want: Strings{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var got Strings
			fs.Var(&got, "x", "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSizesPrintAsTheyParse: a size or rate prints in the form Set reads,
// so help texts show "128MiB" and the printed value parses back the same.
func TestSizesPrintAsTheyParse(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1 << 10, 3 << 20, 128 << 20, 5 << 30, 4000000, 1<<20 + 1} {
		b := ByteSize(n)
		var back ByteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("%d prints %q, which parses to %d (%v)", n, b.String(), back, err)
		}
		r := ByteRate(n)
		var rb ByteRate
		if err := rb.Set(r.String()); err != nil || rb != r {
			t.Errorf("rate %d prints %q, which parses to %d (%v)", n, r.String(), rb, err)
		}
	}
	if got := ByteSize(128 << 20); got.String() != "128MiB" {
		t.Errorf("128 MiB prints %q, want 128MiB", got.String())
	}
}
