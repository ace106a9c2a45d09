package manifest

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		m    *Manifest
	}{
		{"single file", mk("a.txt", MinPieceSize, file("", 100_000))},
		{"empty single file", mk("a.txt", MinPieceSize, file("", 0))},
		{"empty folder share", mk("share", MinPieceSize)},
		{"max piece size", mk("a", MaxPieceSize, file("", MaxPieceSize+1))},
		{"nested folders", mk("s", MinPieceSize, dir("a"), file("a.txt", 5), dir("a/b"), file("a/b/c", 70_000), file("a/d", 0), dir("e"))},
		{"file beside a same-prefix folder", mk("s", MinPieceSize, file("a", 1), file("ab/c", 1))},
		{"implicit parent folders", mk("s", MinPieceSize, file("x/y/z", 3))},
		{"unicode", mk("日本", MinPieceSize, file("é/ß", 1), file("ファイル.txt", 3))},
		{"device-like but allowed", mk("CONSOLE", MinPieceSize, file("COM10", 1), file("LPT0.txt", 1), file("con_x", 1))},
		{"max name length", mk(long(MaxNameLen), MinPieceSize, file("", 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.m.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	withPieces := func(m *Manifest, n int) *Manifest { m.Pieces = make([]Hash, n); return m }
	tests := []struct {
		name string
		m    *Manifest
		want string // a substring of the error
	}{
		{"empty name", mk("", MinPieceSize, file("", 1)), `name "" is empty`},
		{"long name", mk(long(MaxNameLen+1), MinPieceSize, file("", 1)), "is 256 bytes, over the 255-byte limit"},
		{"name with slash", mk("a/b", MinPieceSize, file("", 1)), "contains a slash"},
		{"name dot-dot", mk("..", MinPieceSize, file("", 1)), "is a relative reference"},
		{"name reserved", mk("CON", MinPieceSize, file("", 1)), "reserved Windows device name"},
		{"name bad utf8", mk("a\xff", MinPieceSize, file("", 1)), "not valid UTF-8"},
		{"piece size zero", &Manifest{Name: "a", Entries: []Entry{file("", 0)}}, "piece size 0 is not positive"},
		{"piece size not power of two", mk("a", 3, file("", 1)), "piece size 3 is not a power of two"},
		{"piece size too small", mk("a", MinPieceSize/2, file("", 1)), "piece size 8192 is outside"},
		{"piece size too large", mk("a", MaxPieceSize*2, file("", 1)), "piece size 33554432 is outside"},
		{"single file negative size", withPieces(mk("a", MinPieceSize, file("", -1)), 0), "file size -1 is negative"},
		{"single folder with empty path", mk("a", MinPieceSize, Entry{Dir: true}), "entry 0 has an empty path"},
		{"empty path among entries", mk("a", MinPieceSize, file("", 1), file("b", 1)), "entry 0 has an empty path"},
		{"absolute path", mk("a", MinPieceSize, file("/etc/passwd", 1)), `path "/etc/passwd" is absolute`},
		{"dot-dot path", mk("a", MinPieceSize, file("x/../../y", 1)), `component ".." that is a relative reference`},
		{"duplicate", mk("a", MinPieceSize, file("b", 1), file("b", 1)), `duplicate entry "b"`},
		{"out of order", mk("a", MinPieceSize, file("b", 1), file("a", 1)), `entry "a" is out of order after "b"`},
		{"slash sorts after dot", mk("a", MinPieceSize, dir("a"), dir("a/b"), file("a.txt", 1)), "out of order"},
		{"folder with size", mk("a", MinPieceSize, Entry{Path: "d", Dir: true, Size: 1}), `folder entry "d" has size 1`},
		{"negative size", withPieces(mk("a", MinPieceSize, file("b", -5)), 0), `entry "b" has negative size -5`},
		{"total overflows", withPieces(mk("a", MinPieceSize, file("b", math.MaxInt64), file("c", 1)), 0), `total size overflows at entry "c"`},
		{"case clash", mk("a", MinPieceSize, file("A", 1), file("a", 1)), `entries "A" and "a" differ only in case`},
		{"case clash folder and file", mk("a", MinPieceSize, dir("Docs"), file("docs", 1)), "differ only in case"},
		{"unicode case clash", mk("a", MinPieceSize, file("k", 1), file("\u212a", 1)), "differ only in case"},
		{"file is a parent", mk("a", MinPieceSize, file("a", 1), file("a/b", 1)), `file "a" is also the parent of "a/b"`},
		{"file is a distant parent", mk("a", MinPieceSize, file("a", 1), file("a!", 1), dir("a/b"), file("a/b/c", 1)), `file "a" is also the parent of "a/b"`},
		{"file is a parent under case folding", mk("a", MinPieceSize, file("A", 1), dir("a/b")), `file "A" is also the parent of "a/b"`},
		{"too few pieces", withPieces(mk("a", MinPieceSize, file("", MinPieceSize+1)), 1), "1 piece hashes for 16385 bytes in 16384-byte pieces, want 2"},
		{"too many pieces", withPieces(mk("a", MinPieceSize, file("", MinPieceSize)), 2), "want 1"},
		{"pieces for no bytes", withPieces(mk("a", MinPieceSize, file("", 0)), 1), "want 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "manifest: ") {
				t.Fatalf("Validate = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidPath(t *testing.T) {
	tests := []struct {
		path string
		want string // "" for valid, else a substring of the error
	}{
		{"a", ""},
		{"a/b/c.txt", ""},
		{".hidden/..x/a..b", ""},
		{"日本語/ファイル", ""},
		{"COM0/LPT10/CONSOLE/nul_", ""},
		{long(MaxNameLen) + "/" + long(MaxNameLen), ""},
		{"", "is empty"},
		{"/a", "is absolute"},
		{"a/", "ends in a slash"},
		{"a//b", "empty component"},
		{".", "relative reference"},
		{"a/./b", "relative reference"},
		{"a/..", "relative reference"},
		{`a\b`, "backslash"},
		{"c:", "colon"},
		{"a/file:stream", "colon"},
		{"a\x00b", "control character 0x00"},
		{"a\nb", "control character 0x0a"},
		{"a\x7f", "control character 0x7f"},
		{"a.", "ends in a dot or space"},
		{"a /b", "ends in a dot or space"},
		{"CON", "reserved"},
		{"x/con.txt", "reserved"},
		{"Aux.tar.gz", "reserved"},
		{"NUL .txt", "reserved"},
		{"com1", "reserved"},
		{"LPT9.log", "reserved"},
		{"COM\u00b9", "reserved"},
		{"conin$", "reserved"},
		{"CONOUT$.x", "reserved"},
		{"a\xffb", "not valid UTF-8"},
		{long(MaxNameLen + 1), "256 bytes, over the 255-byte limit"},
		{strings.Repeat("a/", MaxPathLen/2) + "a", "4097 bytes, over the 4096-byte limit"},
	}
	for _, tt := range tests {
		name := tt.path
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(name, func(t *testing.T) {
			err := ValidPath(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidPath(%q) = %v, want nil", tt.path, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidPath(%q) = %v, want ErrInvalid containing %q", tt.path, err, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error is %d bytes; offending values should be truncated", len(err.Error()))
			}
		})
	}
}

// TestFoldKeyMatchesEqualFold checks the clever (one key per case-folding
// class) against the naive (strings.EqualFold on every pair).
func TestFoldKeyMatchesEqualFold(t *testing.T) {
	alphabet := []rune("aAbBkKsSſ\u212aσΣςéÉß\u1e9eǅǄǆ/1.")
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		n := r.IntN(4)
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for range 20000 {
		a, b := word(), word()
		if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
			t.Fatalf("foldKey(%q) == foldKey(%q) is %v, EqualFold says %v", a, b, got, want)
		}
	}
}
