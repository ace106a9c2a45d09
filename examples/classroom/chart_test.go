package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSVG draws charts of finished and unfinished classes and checks that
// each is well-formed XML with the marks it should have.
func TestSVG(t *testing.T) {
	s4 := classParams(4, 4*mib, 4*mib, rates{{Count: 2, Rate: 1 * mib}, {Count: 2, Rate: 2 * mib}}, uniform(4*mib))
	s4.Scenario, s4.Mode, s4.Scale = "s4", "processes", 0.5
	s2 := classParams(30, 128*mib, 8*mib, uniform(4*mib), uniform(8*mib))
	s2.Scenario, s2.Mode = "s2", "goroutines"
	tests := []struct {
		name      string
		r         result
		want      []string
		wantArrow bool // the client-server time is off the chart
	}{
		{name: "client-server on the chart", r: finished(s4, 1.5, 2.5, 2.6, 3.1),
			want: []string{"T* 1.60s", "makespan 3.10s = 1.94·T*", "client-server N·F/U_s 4.00s"}},
		{name: "client-server far away", r: finished(s2, seq(30)...),
			want: []string{"T* 30.00s", "client-server N·F/U_s 8m00s = 16·T*", "CLASSROOM S2"}, wantArrow: true},
		{name: "unfinished", r: finished(s4, 1.5, 2.5), want: []string{"2 of 4 done", "T* 1.60s"}},
		{name: "nothing", r: result{params: params{Leechers: 1, FileBytes: 1, Scale: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := tt.r.svg()
			texts := checkXML(t, svg)
			all := strings.Join(texts, "\n")
			for _, w := range tt.want {
				if !strings.Contains(strings.ToUpper(all), strings.ToUpper(w)) {
					t.Errorf("no text %q among:\n%s", w, all)
				}
			}
			if got := strings.Count(svg, "<polygon") > 1; got != tt.wantArrow {
				t.Errorf("arrow drawn: %v, want %v", got, tt.wantArrow)
			}
		})
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// finished is the result of a class whose first leechers finished at
// times, the rest failing.
func finished(p params, times ...float64) result {
	c := &class{p: p, leechers: make([]leecher, p.Leechers), seedUp: p.FileBytes, cpu: 1}
	for i := range c.leechers {
		if i >= len(times) {
			c.leechers[i] = leecher{exited: true, err: errors.New(`exited <early> & "badly"`)}
			continue
		}
		c.leechers[i] = leecher{done: true, verified: true, doneAt: seconds(times[i])}
		c.makespan = max(c.makespan, seconds(times[i]))
		c.samples = append(c.samples, sample{at: seconds(times[i]), bytes: int64(i+1) * p.FileBytes})
	}
	return *c.result()
}

// checkXML decodes svg to its end, failing on any error, checks its root,
// and returns its texts.
func checkXML(t *testing.T, svg string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var texts []string
	var root string
	inText := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Space + " " + tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Fatalf("root element %q, want svg in the SVG namespace", root)
	}
	return texts
}

func TestTicks(t *testing.T) {
	for _, tt := range []struct {
		span float64
		step float64
		at   float64
		want string
	}{
		{span: 35, step: 5, at: 35, want: "35"},
		{span: 1.6, step: 0.2, at: 1.4, want: "1.4"},
		{span: 1.9, step: 0.25, at: 0.75, want: "0.75"},
		{span: 18, step: 2.5, at: 7.5, want: "7.5"},
		{span: 540, step: 100, at: 500, want: "500"},
	} {
		step := niceStep(tt.span, 8)
		if step != tt.step {
			t.Errorf("niceStep(%v, 8) = %v, want %v", tt.span, step, tt.step)
		}
		if got := tickLabel(tt.at, step); got != tt.want {
			t.Errorf("tickLabel(%v, %v) = %q, want %q", tt.at, step, got, tt.want)
		}
	}
	for n, want := range map[int]string{1: "0 1", 4: "0 1 2 3 4", 7: "0 1 2 3 4 5 6 7", 30: "0 5 10 15 20 25 30", 41: "0 10 20 30 41", 50: "0 10 20 30 40 50"} {
		var parts []string
		for _, k := range intTicks(n) {
			parts = append(parts, strconv.Itoa(k))
		}
		if got := strings.Join(parts, " "); got != want {
			t.Errorf("intTicks(%d) = %s, want %s", n, got, want)
		}
	}
}
