package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestReadmeShowsFigures checks that every image the README shows is
// checked in and well-formed, that one is the architecture figure, and
// that one is a classroom chart with the command that drew it beside it.
func TestReadmeShowsFigures(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	images := regexp.MustCompile(`!\[[^\]]*\]\(([^)\s]+)\)`).FindAllSubmatch(readme, -1)
	var arch, chart bool
	var paths []string
	for _, m := range images {
		path := string(m[1])
		paths = append(paths, path)
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("the README shows %s: %v", path, err)
			continue
		}
		wellFormed(t, path, b)
		switch {
		case path == "docs/architecture.svg":
			arch = true
		case regexp.MustCompile(`go run \./examples/classroom [^\n]*-svg ` + regexp.QuoteMeta(path)).Match(readme):
			chart = true
		}
	}
	if !arch {
		t.Errorf("the README shows no docs/architecture.svg (its images: %q)", paths)
	}
	if !chart {
		t.Error("the README shows no classroom chart with the go run ./examples/classroom … -svg PATH command that drew it")
	}
}
