// Package console holds what the example programs need to talk to a person
// at a terminal: whether there is one, a status line redrawn in place, and
// errors flattened to the single line a failing command prints.
package console

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// IsTerminal reports whether f is a terminal (a character device), where a
// redrawn progress line makes sense; a pipe or a file gets none.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Line is err's text on one line: libp2p's dial errors span several, and a
// failing command prints exactly one. The library's "p2pshare: " prefixes
// go: the command's own name starts the line.
func Line(err error) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(err.Error()), " "), "p2pshare: ", "")
}

// Status is one line of status redrawn in place with a carriage return,
// cut to the terminal's width so that it never wraps onto a second line
// (which the carriage return would leave behind). It is not safe for
// concurrent use.
type Status struct {
	W     io.Writer
	Cols  func() int // the terminal's columns now, 0 unknown; nil is unknown
	width int        // of the line drawn last, to blank what a shorter one leaves
}

// NewStatus is a Status drawn on the terminal f, its width read at each
// draw, so that a resized window gets lines that fit.
func NewStatus(f *os.File) *Status {
	return &Status{W: f, Cols: func() int { return Width(f) }}
}

// Columns is the room a line has: the terminal's width less one column
// (a line that fills the last column wraps on some terminals), or 0 when
// unknown.
func (st *Status) Columns() int {
	if st.Cols == nil {
		return 0
	}
	return max(st.Cols()-1, 0)
}

// Draw replaces the line shown with s, cut to Columns.
func (st *Status) Draw(s string) {
	s = Fit(s, st.Columns())
	n := utf8.RuneCountInString(s)
	pad := max(st.width-n, 0)
	if c := st.Columns(); c > 0 {
		pad = min(pad, c-n)
	}
	fmt.Fprintf(st.W, "\r%s%s", s, strings.Repeat(" ", pad))
	st.width = n
}

// Fit is s cut to at most cols runes, the last of them "…" when cut;
// cols 0 is no limit.
func Fit(s string, cols int) string {
	if cols <= 0 || utf8.RuneCountInString(s) <= cols {
		return s
	}
	r := []rune(s)
	return string(r[:cols-1]) + "…"
}

// BarWidth is how many cells a Bar may take on a line of cols columns
// (0 unknown) beside rest runes of other text: what is left, from 10 to
// 30 cells, or 20 when the width is unknown.
func BarWidth(cols, rest int) int {
	if cols <= 0 {
		return 20
	}
	return min(max(cols-rest-2, 10), 30) // 2 for the brackets
}

// End draws s, if not empty, and moves to a new line, leaving it shown.
func (st *Status) End(s string) {
	if s != "" {
		st.Draw(s)
	}
	if st.width > 0 {
		fmt.Fprintln(st.W)
	}
	st.width = 0
}

// Bar is a text progress bar of width cells for done out of total.
func Bar(done, total int64, width int) string {
	n := width
	if total > 0 {
		n = int(float64(width) * float64(done) / float64(total))
	}
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// Duration writes d rounded to what a person reads: "4.2s", "17s", "1m05s",
// "2h03m".
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "?"
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Main runs a command the way every example does: parse fs from args,
// then the flags not given there from the environment (FromEnv; usage,
// the flags, the environment and trailer print on stderr for -h or a bad
// flag), validate with check, run body, and turn the outcome into an exit status:
// 0 done, 2 bad flags, and for body's error its ExitOf code (1 if none
// fits). Errors print as one line "prog: reason".
func Main(fs *flag.FlagSet, args []string, stderr io.Writer, usage, trailer string, check func() error, body func() error) int {
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\n"+EnvHelp)
		if trailer != "" {
			fmt.Fprint(fs.Output(), "\n"+trailer)
		}
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err == nil {
		err = FromEnv(fs, os.LookupEnv)
	}
	if err == nil {
		err = check()
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), Line(err))
		fs.Usage()
		return 2
	}
	if err := body(); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), Line(err))
		return ExitOf(err).Code
	}
	return 0
}
