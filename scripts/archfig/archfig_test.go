package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository, two folders up from this package.
var root = filepath.Join("..", "..")

// TestFigureIsCurrent draws docs/architecture.txt and checks that the
// checked-in docs/architecture.svg is exactly that drawing, and well-formed
// XML: a description changed without go run ./scripts/archfig fails here.
func TestFigureIsCurrent(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(root, "docs", "architecture.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fig, err := parse(string(text))
	if err != nil {
		t.Fatalf("docs/architecture.txt: %v", err)
	}
	want := fig.svg()
	got, err := os.ReadFile(filepath.Join(root, "docs", "architecture.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/architecture.svg is not what docs/architecture.txt draws: run go run ./scripts/archfig")
	}
	wellFormed(t, "the drawing", []byte(want))
}

func wellFormed(t *testing.T, what string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", what, err)
		}
	}
}

// TestParseErrors checks that a bad description is refused with the line
// and what was wrong in it.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"no canvas", `box 1 2 3 4 app "x"`, "no canvas line"},
		{"unknown shape", "canvas 10 10\nhexagon 1 2", `line 2: unknown shape "hexagon"`},
		{"not a number", "canvas 10 ten", `line 1: canvas: "ten" is not a number`},
		{"too few fields", "canvas 10 10\nbox 1 2 3 app \"x\"", "line 2: box takes 6 fields after its name, not 5"},
		{"unknown style", "canvas 10 10\nbox 1 2 3 4 shiny \"x\"", `line 2: box: "shiny" is none of app, api, pkg, net, teacher`},
		{"open string", "canvas 10 10\n\n# a comment\nnote 1 2 start \"x", "line 4: unterminated or malformed string"},
		{"zero canvas", "canvas 0 10", "no canvas line with a width and height above 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parse: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestParseDraws checks one description of every shape against the SVG it
// must give, quoting and escaping included.
func TestParseDraws(t *testing.T) {
	fig, err := parse(`canvas 100 50.25
# every kind once
title 50 10 "A & B"
group 1 2 3 4 "g"
box 5 6 7 8 pkg "one|two"
circle 9 10 11 "s1"
link 0 0 30 40 control "a \"quoted\" word"
note 1 2 end "n"
`)
	if err != nil {
		t.Fatal(err)
	}
	got := fig.svg()
	wellFormed(t, "the drawing", []byte(got))
	for _, want := range []string{
		`width="100" height="50.3"`,
		`>A &amp; B</text>`,
		`<rect x="1" y="2" width="3" height="4" rx="10"`,
		`<rect x="5" y="6" width="7" height="8" rx="6" fill="#ffffff" stroke="#6baed6"`,
		`font-weight="600">one</text>`, `>two</text>`,
		`<circle cx="9" cy="10" r="11"`,
		`<line x1="0" y1="0" x2="30" y2="40" stroke="#d95f02"`, `>a &quot;quoted&quot; word</text>`,
		`text-anchor="end" fill="#636363" font-style="italic">n</text>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the drawing lacks %s:\n%s", want, got)
		}
	}
	// Frames go under links, links under boxes and circles, text on top.
	if g, l, b := strings.Index(got, `rx="10"`), strings.Index(got, "<line"), strings.Index(got, `rx="6"`); !(g < l && l < b) {
		t.Errorf("drawing order: group at %d, link at %d, box at %d; want them in that order", g, l, b)
	}
}
