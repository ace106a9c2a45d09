// Command archfig draws the README's architecture figure: it reads a text
// description of boxes, circles, links and notes and writes it as SVG.
//
//	go run ./scripts/archfig            # docs/architecture.txt -> docs/architecture.svg
//	go run ./scripts/archfig -in F -out G
//
// The description has one shape a line ('#' starts a comment; coordinates
// are SVG pixels, the origin top left; a label's lines are separated by |,
// and its first line is set in bold):
//
//	canvas W H
//	title X Y "text"
//	group X Y W H "label"                  a dashed frame, its label at its top left
//	box X Y W H STYLE "label"              STYLE: app, api, pkg, net, teacher
//	circle X Y R "label"                   a student's node
//	link X1 Y1 X2 Y2 STYLE "label"         STYLE: piece (both ways), control (an arrow), dashed
//	note X Y ANCHOR "text"                 ANCHOR: start, middle or end
//
// The same description always gives the same bytes, so the checked-in
// figure can be compared with what the description draws.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "docs/architecture.txt", "the description to read")
	out := flag.String("out", "docs/architecture.svg", "the SVG to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "archfig:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	text, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	fig, err := parse(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, []byte(fig.svg()), 0o644)
}
