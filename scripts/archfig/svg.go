package main

import (
	"fmt"
	"math"
	"strings"
)

// The figure's type and colours.
const (
	font       = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
	fontSize   = 13
	lineHeight = 16
	ink        = "#252525"
	muted      = "#636363"
	pieceBlue  = "#3182bd"
	control    = "#d95f02"
)

// boxStyles are the fill and stroke of each box style.
var boxStyles = map[string][2]string{
	"app":     {"#f0f0f0", "#969696"},
	"api":     {"#deebf7", "#3182bd"},
	"pkg":     {"#ffffff", "#6baed6"},
	"net":     {"#e5f5e0", "#41ab5d"},
	"teacher": {"#fee6ce", "#e6550d"},
}

// svg writes the figure: a white canvas, then every shape in the order of
// the description, links under the shapes they join.
func (f *figure) svg() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s" font-size="%d" fill="%s">`+"\n",
		num(f.w), num(f.h), num(f.w), num(f.h), font, fontSize, ink)
	fmt.Fprintf(&b, "<defs>\n%s%s</defs>\n", marker("arrow", control), marker("arrow-blue", pieceBlue))
	fmt.Fprintf(&b, `<rect width="%s" height="%s" fill="#ffffff"/>`+"\n", num(f.w), num(f.h))
	for _, kind := range []string{"group", "link", "box", "circle", "title", "note"} {
		for _, s := range f.shapes {
			if s.kind == kind {
				s.draw(&b)
			}
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func marker(id, colour string) string {
	return fmt.Sprintf(`<marker id="%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`+"\n", id, colour)
}

func (s shape) draw(b *strings.Builder) {
	n := s.nums
	switch s.kind {
	case "title":
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" font-size="17" font-weight="600">%s</text>`+"\n", num(n[0]), num(n[1]), esc(s.label))
	case "group":
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="10" fill="none" stroke="%s" stroke-dasharray="6 4"/>`+"\n",
			num(n[0]), num(n[1]), num(n[2]), num(n[3]), muted)
		fmt.Fprintf(b, `<text x="%s" y="%s" fill="%s" font-style="italic">%s</text>`+"\n", num(n[0]+12), num(n[1]+20), muted, esc(s.label))
	case "box":
		st := boxStyles[s.word]
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n",
			num(n[0]), num(n[1]), num(n[2]), num(n[3]), st[0], st[1])
		lines(b, n[0]+n[2]/2, n[1]+n[3]/2, s.label)
	case "circle":
		fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n",
			num(n[0]), num(n[1]), num(n[2]), boxStyles["api"][0], boxStyles["api"][1])
		lines(b, n[0], n[1], s.label)
	case "link":
		s.link(b)
	case "note":
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" fill="%s" font-style="italic">%s</text>`+"\n", num(n[0]), num(n[1]), s.word, muted, esc(s.label))
	}
}

// link draws a line between two points, with arrowheads as its style
// says, and its label beside its middle.
func (s shape) link(b *strings.Builder) {
	x1, y1, x2, y2 := s.nums[0], s.nums[1], s.nums[2], s.nums[3]
	var attrs, colour string
	switch s.word {
	case "piece":
		colour = pieceBlue
		attrs = `stroke-width="2" marker-start="url(#arrow-blue)" marker-end="url(#arrow-blue)"`
	case "control":
		colour = control
		attrs = `stroke-width="1.5" marker-end="url(#arrow)"`
	case "dashed":
		colour = muted
		attrs = `stroke-width="1.2" stroke-dasharray="4 3"`
	}
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" %s/>`+"\n", num(x1), num(y1), num(x2), num(y2), colour, attrs)
	if s.label == "" {
		return
	}
	// The label sits beside the middle, on the side away from the line's
	// normal, so it does not cross it.
	mx, my := (x1+x2)/2, (y1+y2)/2
	dx, dy := x2-x1, y2-y1
	l := math.Hypot(dx, dy)
	if l == 0 {
		l = 1
	}
	nx, ny := -dy/l, dx/l
	if nx < 0 {
		nx, ny = -nx, -ny
	}
	anchor := "start"
	if math.Abs(nx) < 0.3 {
		anchor = "middle"
	}
	x, y := mx+nx*8, my+ny*8+4
	if anchor == "middle" && ny < 0 {
		y -= 4
	}
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" fill="%s" font-size="12">%s</text>`+"\n", num(x), num(y), anchor, colour, esc(s.label))
}

// lines centres a label's lines on (cx, cy), the first in bold.
func lines(b *strings.Builder, cx, cy float64, label string) {
	ls := strings.Split(label, "|")
	y := cy - float64(len(ls)*lineHeight)/2 + lineHeight - 4
	for i, l := range ls {
		weight := ""
		if i == 0 {
			weight = ` font-weight="600"`
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle"%s>%s</text>`+"\n", num(cx), num(y), weight, esc(l))
		y += lineHeight
	}
}

// num prints a coordinate with at most one decimal, the same on every
// machine.
func num(v float64) string {
	return fmt.Sprint(math.Round(v*10) / 10)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
