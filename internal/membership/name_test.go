package membership

import (
	"errors"
	"strings"
	"testing"
)

// TestNameKey: names that read the same have one key; names that differ
// keep theirs.
func TestNameKey(t *testing.T) {
	same := []struct{ name, a, b string }{
		{"case", "S1234", "s1234"},
		{"long s", "ſ1234", "s1234"},
		{"full width", "ｓ１２３４", "s1234"},
		{"Cyrillic dze", "ѕ1234", "s1234"},
		{"Cyrillic word", "рара", "papa"},
		{"Greek capitals", "ΚΟΤ", "kot"},
		{"Arabic-Indic digits", "١٢٣٤", "1234"},
		{"sharp s", "Straße", "STRASSE"},
		{"decomposed accent", "Jose\u0301", "José"},
		{"ligature", "ﬁona", "fiona"},
		{"dotless i", "sıx", "six"},
		{"Cyrillic capitals read as Latin", "ВЕРА", "BEPA"},
	}
	for _, c := range same {
		t.Run(c.name, func(t *testing.T) {
			if ka, kb := nameKey(c.a), nameKey(c.b); ka != kb {
				t.Errorf("nameKey(%q) = %q, nameKey(%q) = %q: want one key", c.a, ka, c.b, kb)
			}
		})
	}
	differ := [][2]string{{"s1234", "s1235"}, {"ann", "anne"}, {"José", "Jose"}, {"ann lee", "annlee"}}
	for _, d := range differ {
		if nameKey(d[0]) == nameKey(d[1]) {
			t.Errorf("nameKey(%q) = nameKey(%q) = %q: want different keys", d[0], d[1], nameKey(d[0]))
		}
	}
}

// TestCheckNewName: the characters a new name may hold, and the error
// that names the first bad one and where it is.
func TestCheckNewName(t *testing.T) {
	good := []string{
		"s1234", "S1234", "alice", "Anne-Marie O'Neil", "Dr. Who", "ann_lee",
		"José García", "Nguyễn Văn An", "Łukasz", "Çağrı", "Вера", "Ελένη", "李华",
		"山田ーたろう", "Tanaka 太郎", "김민준", "देवनागरी", "١٢٣٤", "teacher",
		"victim-certificate is for another peer",
	}
	for _, n := range good {
		if err := checkNewName(n); err != nil {
			t.Errorf("checkNewName(%q): %v", n, err)
		}
	}
	bad := []struct {
		name, in string
		pos      int    // the character named; 0: no position
		char     rune   // the character named
		why      string // in the error
	}{
		{"long s", "ſ1234", 1, 'ſ', `compatibility form of "s"`},
		{"full width", "ｓ1234", 1, 'ｓ', "compatibility form"},
		{"ligature", "ﬁona", 1, 'ﬁ', `compatibility form of "fi"`},
		{"superscript digit", "s1234²", 6, '²', "not a letter, digit"},
		{"zero-width space at the end", "s1234\u200b", 6, '\u200b', "invisible"},
		{"zero-width joiner", "s12\u200d34", 4, '\u200d', "invisible"},
		{"right-to-left override", "\u202es1234", 1, '\u202e', "invisible"},
		{"left-to-right isolate", "s1\u2066234", 3, '\u2066', "invisible"},
		{"left-to-right mark", "s1234\u200e", 6, '\u200e', "invisible"},
		{"variation selector", "s\ufe0f1234", 2, '\ufe0f', "invisible"},
		{"Hangul filler", "s\u31641234", 2, '\u3164', "invisible"},
		{"soft hyphen", "s12\u00ad34", 4, '\u00ad', "invisible"},
		{"Latin with Cyrillic", "sаm", 2, 'а', "one script"},
		{"Cyrillic with Latin", "ѕ1234x", 6, 'x', "one script"},
		{"Greek with Latin", "ΑBC", 2, 'B', "one script"},
		{"Latin digit with Arabic digits", "s١٢٣", 2, '١', "one script"},
		{"decomposed accent", "Jose\u0301", 5, '\u0301', "NFC"},
		{"mark first", "\u0301s1234", 1, '\u0301', "no letter before it"},
		{"no-break space", "ann\u00a0lee", 4, '\u00a0', "space other than"},
		{"two spaces", "ann  lee", 5, ' ', "second space"},
		{"symbol", "s1234!", 6, '!', "not a letter"},
		{"slash", "a/b", 2, '/', "not a letter"},
		{"IPA letter", "ɑnn", 1, 'ɑ', "phonetic"},
		{"Cherokee", "Ꮪ1234", 1, 'Ꮪ', "Cherokee script"},
		{"modifier letter apostrophe", "O\u02bcNeil", 2, '\u02bc', "no script"},
		{"mathematical bold", "𝐬1234", 1, '𝐬', "compatibility form"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := checkNewName(c.in)
			var ne *NameError
			if !errors.As(err, &ne) || !errors.Is(err, ErrBadName) {
				t.Fatalf("checkNewName(%q) = %v, want a NameError", c.in, err)
			}
			if ne.Pos != c.pos || ne.Char != c.char || !strings.Contains(err.Error(), c.why) {
				t.Errorf("checkNewName(%q) = %v\nwant character %d, %q, saying %q", c.in, err, c.pos, c.char, c.why)
			}
		})
	}
	for _, n := range []string{"", " s1234", "---", strings.Repeat("s", 65), "s\x001"} {
		if err := checkNewName(n); err == nil {
			t.Errorf("checkNewName(%q) = nil", n)
		}
	}
}
