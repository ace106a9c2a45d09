package main

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The chart's size and margins, in SVG user units (pixels).
const (
	chartW, chartH             = 860, 520
	padL, padR, padT, padB     = 64, 36, 84, 56
	plotW                      = chartW - padL - padR
	plotH                      = chartH - padT - padB
	labelRow                   = 16 // the height of a row of labels at the plot's top
	charW                      = 6.6
	colDone, colHeld, colTStar = "#08519c", "#c6dbef", "#d95f02"
	colMakespan, colCS, colAx  = "#7a0177", "#636363", "#252525"
)

func (r *result) writeSVG(path string) error {
	if err := os.WriteFile(path, []byte(r.svg()), 0o644); err != nil {
		return fmt.Errorf("writing -svg: %w", err)
	}
	return nil
}

// svg draws peers done over time as a step line, over the content the class
// held (in copies of F), with T*, the makespan and the client-server time
// marked; a client-server time far beyond the run gets an arrow at the
// right edge instead of a line.
func (r *result) svg() string {
	var done []float64
	for _, p := range r.Peers {
		if p.Seconds > 0 {
			done = append(done, p.Seconds)
		}
	}
	slices.Sort(done)
	last := r.TStar
	if len(done) > 0 {
		last = max(last, done[len(done)-1])
	}
	if len(r.Timeline) > 0 {
		last = max(last, r.Timeline[len(r.Timeline)-1].Seconds)
	}
	xmax := max(last*1.1, 0.001)
	// The client-server time gets a line only if it leaves the run at least
	// half the chart's width.
	csLine := r.ClientServer > 0 && r.ClientServer <= 2*xmax
	if csLine {
		xmax = max(xmax, r.ClientServer*1.05)
	}
	xstep := niceStep(xmax, 8)
	xmax = math.Ceil(xmax/xstep-1e-9) * xstep
	n := float64(r.Leechers)
	ymax := n * 1.16 // headroom above N for the markers' labels
	X := func(t float64) float64 { return padL + t/xmax*plotW }
	Y := func(k float64) float64 { return padT + plotH - k/ymax*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
`, chartW, chartH, chartW, chartH)
	text(&b, padL, 26, "start", `font-size="17" font-weight="bold" fill="#111"`, r.title())
	text(&b, padL, 46, "start", `fill="#444"`, r.caps())
	text(&b, padL, 64, "start", `fill="#444"`, r.outcome())

	// Grid, ticks and their labels.
	b.WriteString(`<g stroke="#e6e6e6" stroke-width="1">` + "\n")
	nx := int(math.Round(xmax / xstep))
	for i := 1; i <= nx; i++ {
		t := float64(i) * xstep
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", X(t), padT, X(t), padT+plotH)
	}
	yticks := intTicks(r.Leechers)
	for _, k := range yticks {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`+"\n", padL, Y(float64(k)), padL+plotW, Y(float64(k)))
	}
	b.WriteString("</g>\n")
	b.WriteString(`<g fill="#333">` + "\n")
	for i := 0; i <= nx; i++ {
		t := float64(i) * xstep
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", X(t), padT+plotH, X(t), padT+plotH+5, colAx)
		text(&b, X(t), padT+plotH+19, "middle", "", tickLabel(t, xstep))
	}
	for _, k := range yticks {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", padL-5, Y(float64(k)), padL, Y(float64(k)), colAx)
		text(&b, padL-8, Y(float64(k))+4, "end", "", strconv.Itoa(k))
	}
	b.WriteString("</g>\n")
	text(&b, padL+plotW/2, chartH-14, "middle", `fill="#222"`, "seconds since the leechers started")
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#222">leechers done</text>`+"\n", padT+plotH/2)

	// The content the class held, as an area in copies of F.
	if len(r.Timeline) > 0 && r.FileBytes > 0 {
		pts := []string{fmt.Sprintf("%.1f,%.1f", X(0), Y(0))}
		for _, s := range r.Timeline {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(s.Seconds), Y(float64(s.Bytes)/float64(r.FileBytes))))
		}
		// What the class holds at the end, it keeps.
		end := r.Timeline[len(r.Timeline)-1]
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(xmax), Y(float64(end.Bytes)/float64(r.FileBytes))),
			fmt.Sprintf("%.1f,%.1f", X(xmax), Y(0)))
		fmt.Fprintf(&b, `<polygon points="%s" fill="%s" fill-opacity="0.6" stroke="none"/>`+"\n", strings.Join(pts, " "), colHeld)
	}

	// Peers done: a step at each completion, flat to the right edge.
	var path strings.Builder
	fmt.Fprintf(&path, "M%.1f %.1f", X(0), Y(0))
	for i, t := range done {
		fmt.Fprintf(&path, " H%.1f V%.1f", X(t), Y(float64(i+1)))
	}
	fmt.Fprintf(&path, " H%.1f", X(xmax))
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2.2" stroke-linejoin="miter"/>`+"\n", path.String(), colDone)

	// Markers, each with its label on its own row above N and its line
	// from there down, so that no line crosses a label above it. A
	// client-server time far off the chart gets the top row and an arrow
	// pointing there.
	row := 0
	rowY := func() float64 { return float64(padT + labelRow*(row+1) - 4) }
	if !csLine && r.ClientServer > 0 {
		label := fmt.Sprintf("client-server N·F/U_s %s", secs(r.ClientServer))
		if r.TStar > 0 {
			label += fmt.Sprintf(" = %.3g·T*", r.ClientServer/r.TStar)
		}
		y, xe := rowY(), float64(padL+plotW-2)
		text(&b, xe-16, y, "end", `fill="`+colCS+`"`, label)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.6"/>`+"\n", xe-13, y-4, xe-4, y-4, colCS)
		fmt.Fprintf(&b, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s"/>`+"\n", xe, y-4, xe-7, y-8, xe-7, y, colCS)
		row++
	}
	// The rightmost marker takes the highest free row, so a label that
	// runs left crosses no line; one runs right only if it ends before the
	// line to its right.
	type mark struct {
		t                  float64
		color, dash, label string
	}
	var marks []mark
	if r.TStar > 0 {
		marks = append(marks, mark{r.TStar, colTStar, "7 4", "T* " + secs(r.TStar)})
	}
	if r.Makespan > 0 {
		marks = append(marks, mark{r.Makespan, colMakespan, "2 3", fmt.Sprintf("makespan %s = %.2f·T*", secs(r.Makespan), r.OverTStar)})
	}
	if csLine {
		marks = append(marks, mark{r.ClientServer, colCS, "9 3 2 3", "client-server N·F/U_s " + secs(r.ClientServer)})
	}
	slices.SortStableFunc(marks, func(a, b mark) int { return cmp.Compare(b.t, a.t) })
	limit := float64(padL + plotW)
	for _, m := range marks {
		x, y := X(m.t), rowY()
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.6" stroke-dasharray="%s"/>`+"\n",
			x, y-labelRow+6, x, padT+plotH, m.color, m.dash)
		w := charW * float64(len([]rune(m.label)))
		if x+5+w < limit-4 || x-5-w < padL {
			text(&b, x+5, y, "start", `fill="`+m.color+`"`, m.label)
		} else {
			text(&b, x-5, y, "end", `fill="`+m.color+`"`, m.label)
		}
		row++
		limit = x
	}

	// Axes over everything, then the legend in the empty top left.
	fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" fill="none" stroke="%s" stroke-width="1.2"/>`+"\n", padL, padT, padT+plotH, padL+plotW, colAx)
	lx, ly := float64(padL+14), Y(n)+22
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="260" height="44" fill="white" fill-opacity="0.85" stroke="#ccc"/>`+"\n", lx-8, ly-15)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2.2"/>`+"\n", lx, ly-4, lx+22, ly-4, colDone)
	text(&b, lx+30, ly, "start", "", "leechers done")
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="22" height="10" fill="%s"/>`+"\n", lx, ly+9, colHeld)
	text(&b, lx+30, ly+18, "start", "", "content held by the class, in copies of F")
	b.WriteString("</svg>\n")
	return b.String()
}

// outcome is the run's result in one line, for the chart's subtitle.
func (r *result) outcome() string {
	parts := []string{fmt.Sprintf("%d of %d done", r.Completed, r.Leechers)}
	if r.OverTStar > 0 {
		parts = append(parts, fmt.Sprintf("makespan %.2f·T*, median %.2f·T*", r.OverTStar, r.MedianOverStar))
	}
	parts = append(parts, fmt.Sprintf("seeder sent %.2f·F", r.SeederUpload))
	if r.Delivered > 0 {
		parts = append(parts, fmt.Sprintf("CPU %.1f s per GB delivered", r.CPUPerGB))
	}
	return strings.Join(parts, "; ")
}

// text writes an SVG text element with s escaped.
func text(b *strings.Builder, x, y float64, anchor, attrs, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>`, x, y, anchor, attrs)
	_ = xml.EscapeText(b, []byte(s))
	b.WriteString("</text>\n")
}

// niceStep is a tick step of 1, 2, 2.5 or 5 times a power of ten that cuts
// span into at most about target pieces.
func niceStep(span float64, target int) float64 {
	raw := span / float64(target)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// tickLabel writes t with as many decimals as step needs.
func tickLabel(t, step float64) string {
	d := 0
	for ; d < 6; d++ {
		if s := step * math.Pow(10, float64(d)); math.Abs(s-math.Round(s)) < 1e-9 {
			break
		}
	}
	return strconv.FormatFloat(t, 'f', d, 64)
}

// intTicks are whole-number ticks from 0 to n, n always among them.
func intTicks(n int) []int {
	step := max(int(niceStep(float64(n), 8)), 1)
	var out []int
	for k := 0; k < n; k += step {
		if n-k >= step/2 || k == 0 {
			out = append(out, k)
		}
	}
	return append(out, n)
}
