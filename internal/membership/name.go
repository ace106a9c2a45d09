package membership

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Names. A member's name is its roll number or its own name, shown to the
// class and held by one member at a time. Two rules keep one student from
// passing for another:
//
//   - nameKey is the one form in which names are compared: NFKC, full case
//     folding, a short table of Greek and Cyrillic letters that look like
//     Latin ones, and every decimal digit as its ASCII digit. "S1234",
//     "ſ1234" (long s), "ｓ1234" (full width) and "ѕ1234" (Cyrillic dze)
//     all have the key of "s1234", so whoever holds s1234 holds them all.
//   - checkNewName is what a name must be to be given out at admission:
//     letters, digits and combining marks of the scripts in common use
//     (UTS #31's recommended scripts), plain spaces (one at a time) and
//     - _ . ' — in composed form (NFC), with no compatibility characters
//     (ſ, ﬁ, full width), nothing invisible (zero-width characters, joiners,
//     direction controls, variation selectors) and one script per name
//     (Latin may join Han with kana, Bopomofo or Hangul, as Japanese,
//     Chinese and Korean names are written). Its error names the first bad
//     character and its position.
//
// Certificates, wire messages and registry files are only checked for
// shape (validName): a name given out before these rules still loads.
//
// What is not caught: look-alikes within one script ("l" and "1", "rn"
// and "m", "0" and "o"), and Greek or Cyrillic letters that resemble Latin
// ones only in the other case than the table maps.

// nameKey is the form in which names are compared and looked up. It is its
// own key: nameKey(nameKey(n)) == nameKey(n). Bytes that are not UTF-8
// count as U+FFFD, as they would once stored and read back; and since the
// per-letter folds can yield a letter that NFKC would still change (ǅ
// after a stray byte folds to ǆ, which NFKC spells "dž"), the steps repeat
// until the key stands still.
func nameKey(n string) string {
	k := strings.ToValidUTF8(n, "\uFFFD")
	for range 4 {
		next := keyStep(k)
		if next == k {
			break
		}
		k = next
	}
	return k
}

// keyStep is one pass of nameKey: NFKC, full case folding, NFKC, then per
// letter the fold orbit, the look-alike table and decimal digits to ASCII.
func keyStep(n string) string {
	s := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(n)))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = foldRune(r)
		switch l, ok := lookalike[r]; {
		case ok:
			b.WriteRune(l)
		case r > unicode.MaxASCII && unicode.Is(unicode.Nd, r):
			b.WriteByte('0' + digitValue(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// foldRune is one member of r's simple case-folding orbit, the same for
// all of them: the lower case of its least. Full case folding alone is not
// enough, as x/text folds some letters (Cherokee) back and forth.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return unicode.ToLower(least)
}

// lookalike maps folded Greek and Cyrillic letters to the Latin letter
// they pass for, in nameKey.
var lookalike = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'ь': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'ë',
	'н': 'h', 'һ': 'h', 'і': 'i', 'ї': 'ï', 'ј': 'j', 'к': 'k', 'ӏ': 'l',
	'м': 'm', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'т': 't', 'у': 'y',
	'ү': 'y', 'ԝ': 'w', 'х': 'x',
	// Greek
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'h', 'ι': 'i', 'κ': 'k', 'μ': 'm',
	'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'y', 'χ': 'x', 'ζ': 'z',
	'ω': 'w',
	// Latin letters that pass for plain ones
	'ı': 'i', 'ĸ': 'k',
}

// digitValue is the value of the decimal digit r: Unicode lays out each
// script's digits as a run of ten from zero.
func digitValue(r rune) byte {
	v := 0
	for unicode.Is(unicode.Nd, r-1) {
		r--
		v++
	}
	return byte(v % 10)
}

// NameError is a name refused for one of its characters.
type NameError struct {
	Name string
	Pos  int  // 1-based, in characters
	Char rune // the character at Pos
	Why  string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("membership: name %q: character %d, %q (U+%04X), %s", e.Name, e.Pos, e.Char, e.Char, e.Why)
}

// Unwrap makes a NameError an ErrBadName.
func (e *NameError) Unwrap() error { return ErrBadName }

// allowedScripts are UTS #31's recommended scripts (Table 4): the writing
// systems in everyday use.
var allowedScripts = map[string]bool{
	"Arabic": true, "Armenian": true, "Bengali": true, "Bopomofo": true, "Cyrillic": true,
	"Devanagari": true, "Ethiopic": true, "Georgian": true, "Greek": true, "Gujarati": true,
	"Gurmukhi": true, "Han": true, "Hangul": true, "Hebrew": true, "Hiragana": true,
	"Kannada": true, "Katakana": true, "Khmer": true, "Lao": true, "Latin": true,
	"Malayalam": true, "Myanmar": true, "Oriya": true, "Sinhala": true, "Tamil": true,
	"Telugu": true, "Thaana": true, "Thai": true, "Tibetan": true,
}

// scriptSets are the mixes of scripts a name may use besides one script
// alone: how Japanese, Chinese and Korean names are written (UTS #39's
// highly restrictive level).
var scriptSets = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
	{"Latin": true, "Han": true, "Hangul": true},
}

// maxMarks is the most combining marks in a row after a letter (Indic
// conjuncts take three).
const maxMarks = 3

// checkNewName reports why n may not be given to a newcomer, or nil. See
// the comment at the top of this file.
func checkNewName(n string) error {
	if err := validName(n); err != nil {
		return err
	}
	bad := func(pos int, r rune, format string, args ...any) error {
		return &NameError{Name: n, Pos: pos, Char: r, Why: fmt.Sprintf(format, args...)}
	}
	notNFC := firstNotNFC(n)
	var (
		scripts   []string // distinct, in order of appearance
		firstPos  = map[string]int{}
		firstChar = map[string]rune{}
		prev      rune
		marks     int
		alnum     bool
		pos       int
	)
	for i, r := range n {
		pos++
		if i == notNFC {
			return bad(pos, r, "is not in composed form (NFC): type each accented letter as one character")
		}
		switch {
		case invisible(r):
			return bad(pos, r, "is invisible (a zero-width, joining, direction or variation character)")
		case r == ' ':
			if prev == ' ' {
				return bad(pos, r, "is a second space in a row")
			}
		case unicode.IsSpace(r):
			return bad(pos, r, "is a space other than the plain one (U+0020)")
		case strings.ContainsRune("-_.'", r):
		case unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r):
			if err := checkNameChar(r, prev, &marks); err != "" {
				return bad(pos, r, "%s", err)
			}
			alnum = alnum || !unicode.IsMark(r)
			s := scriptOf(r)
			if s == "Common" || s == "Inherited" {
				break
			}
			if _, seen := firstPos[s]; !seen {
				firstPos[s], firstChar[s] = pos, r
				scripts = append(scripts, s)
				if !scriptsMix(scripts) {
					o := scripts[0]
					return bad(pos, r, "is %s, but character %d, %q, is %s: a name keeps to one script", s, firstPos[o], firstChar[o], o)
				}
			}
		default:
			return bad(pos, r, "is not a letter, digit, combining mark, space or one of - _ . '")
		}
		prev = r
	}
	if !alnum {
		return fmt.Errorf("membership: name %q has no letter or digit: %w", n, ErrBadName)
	}
	return nil
}

// checkNameChar checks a letter, mark or digit r that follows prev, with
// marks the combining marks in a row so far; it says what is wrong, or "".
func checkNameChar(r, prev rune, marks *int) string {
	if c := norm.NFKC.String(string(r)); c != string(r) {
		return fmt.Sprintf("is a compatibility form of %q: use that instead", c)
	}
	if unicode.IsMark(r) {
		if *marks++; *marks > maxMarks || prev == 0 || !(unicode.IsLetter(prev) || unicode.IsMark(prev)) {
			return fmt.Sprintf("is a combining mark with no letter before it, or one of more than %d in a row", maxMarks)
		}
	} else {
		*marks = 0
	}
	switch s := scriptOf(r); {
	case s == "Common" || s == "Inherited":
		if unicode.IsLetter(r) && r != 'ー' { // the kana length mark is Common
			return "is a letter of no script (a symbol-like letter)"
		}
	case !allowedScripts[s]:
		return fmt.Sprintf("is in the %s script, which is not one of the scripts names may use", s)
	case s == "Latin" && unicode.IsLetter(r) && !commonLatin(r):
		return "is a phonetic or rare Latin letter"
	}
	return ""
}

// firstNotNFC is the byte offset of the first character of n that makes
// it not composed (NFC), or -1 if n is.
func firstNotNFC(n string) int {
	if norm.NFC.IsNormalString(n) {
		return -1
	}
	for i, r := range n {
		if !norm.NFC.IsNormalString(n[:i+utf8.RuneLen(r)]) {
			return i
		}
	}
	return -1
}

// invisible reports characters that show nothing or reorder what is
// shown: format characters (zero-width space and joiners, bidirectional
// controls), variation selectors and the other default-ignorable ones
// (Hangul fillers, the combining grapheme joiner).
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Bidi_Control, r) ||
		unicode.Is(unicode.Join_Control, r)
}

// scriptOf is the Unicode script of r ("Common" if none matches).
func scriptOf(r rune) string {
	switch {
	case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		return "Latin"
	case r < utf8.RuneSelf:
		return "Common"
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return name
		}
	}
	return "Common"
}

// commonLatin reports Latin letters of the blocks that write living
// languages: Basic Latin, Latin-1, Latin Extended-A and -B, and Latin
// Extended Additional (Vietnamese). IPA and the phonetic extensions are
// left out: many of them pass for other letters.
func commonLatin(r rune) bool {
	return r <= 0x024F || (r >= 0x1E00 && r <= 0x1EFF)
}

// scriptsMix reports whether a name may use all of scripts together.
func scriptsMix(scripts []string) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range scriptSets {
		all := true
		for _, s := range scripts {
			all = all && set[s]
		}
		if all {
			return true
		}
	}
	return false
}

// validName accepts 1–64 bytes of UTF-8 with no control characters and no
// space at either end: the shape every name must have wherever it comes
// from (certificates, requests, registry files). New names must also pass
// checkNewName.
func validName(n string) error {
	if n == "" || len(n) > maxNameLen {
		return fmt.Errorf("membership: name %q must be 1 to %d bytes: %w", n, maxNameLen, ErrMalformed)
	}
	if !utf8.ValidString(n) || strings.TrimSpace(n) != n || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return fmt.Errorf("membership: name %q has control characters, invalid UTF-8 or spaces at an end: %w", n, ErrMalformed)
	}
	return nil
}

// CheckNewName is checkNewName for the packages that give names out: the
// rules a name must pass to be given to a newcomer.
func CheckNewName(n string) error { return checkNewName(n) }
