package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// figure is a parsed description: the canvas and its shapes, in order.
type figure struct {
	w, h   float64
	shapes []shape
}

// shape is one line of the description: its kind, its numbers, its words
// (a style or an anchor) and its label.
type shape struct {
	kind  string
	nums  []float64
	word  string
	label string
}

// grammar says, per kind, how many numbers follow it, whether a word
// does, and the words allowed.
var grammar = map[string]struct {
	nums  int
	words []string
	label bool
}{
	"canvas": {nums: 2},
	"title":  {nums: 2, label: true},
	"group":  {nums: 4, label: true},
	"box":    {nums: 4, words: []string{"app", "api", "pkg", "net", "teacher"}, label: true},
	"circle": {nums: 3, label: true},
	"link":   {nums: 4, words: []string{"piece", "control", "dashed"}, label: true},
	"note":   {nums: 2, words: []string{"start", "middle", "end"}, label: true},
}

// parse reads a description; an error names the line and what was wrong.
func parse(text string) (*figure, error) {
	f := &figure{}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields, err := split(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		g, ok := grammar[fields[0]]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown shape %q", n, fields[0])
		}
		want := 1 + g.nums
		if g.words != nil {
			want++
		}
		if g.label {
			want++
		}
		if len(fields) != want {
			return nil, fmt.Errorf("line %d: %s takes %d fields after its name, not %d", n, fields[0], want-1, len(fields)-1)
		}
		s := shape{kind: fields[0]}
		for _, v := range fields[1 : 1+g.nums] {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %q is not a number", n, s.kind, v)
			}
			s.nums = append(s.nums, x)
		}
		rest := fields[1+g.nums:]
		if g.words != nil {
			s.word, rest = rest[0], rest[1:]
			if !slices.Contains(g.words, s.word) {
				return nil, fmt.Errorf("line %d: %s: %q is none of %s", n, s.kind, s.word, strings.Join(g.words, ", "))
			}
		}
		if g.label {
			s.label = rest[0]
		}
		if s.kind == "canvas" {
			f.w, f.h = s.nums[0], s.nums[1]
			continue
		}
		f.shapes = append(f.shapes, s)
	}
	if f.w <= 0 || f.h <= 0 {
		return nil, fmt.Errorf("no canvas line with a width and height above 0")
	}
	return f, nil
}

// split cuts a line into fields at spaces; a field that starts with a
// double quote is a Go string literal, spaces and all.
func split(line string) ([]string, error) {
	var fields []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("unterminated or malformed string at %q", line)
			}
			s, _ := strconv.Unquote(q)
			fields = append(fields, s)
			line = line[len(q):]
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		fields = append(fields, word)
		line = rest
	}
	return fields, nil
}
