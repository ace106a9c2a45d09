package p2pshare_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// What a program that imports p2pshare gets from the module: the Go it
// must declare, and the modules it must list. Both run the go command on
// the modules already in the module cache (GOPROXY=off), so they need no
// network once the module itself has been built.

// testOnlyModules are modules that only tests of this project need; none
// may reach the module graph of a program that imports p2pshare.
var testOnlyModules = []string{
	"github.com/chromedp/", // examples/browsertest, a module of its own
}

// goCmd runs the toolchain that built this test in dir, offline, and
// returns its stdout. The project's own go.mod and go.sum are read only
// (-mod=readonly); a temporary importer's may be written (-mod=mod).
func goCmd(t *testing.T, dir, mod string, args ...string) string {
	t.Helper()
	//lint:ignore SA1019 a test binary runs where it was built, so its GOROOT is meaningful.
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS="+mod)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr)
	}
	return string(out)
}

// moduleRoot is the folder of this project's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: %v", root, err)
	}
	return root
}

// goLine is the go line of the go.mod in dir.
func goLine(t *testing.T, dir string) string {
	t.Helper()
	var mod struct{ Go string }
	if err := json.Unmarshal([]byte(goCmd(t, dir, "-mod=readonly", "mod", "edit", "-json")), &mod); err != nil {
		t.Fatalf("go mod edit -json in %s: %v", dir, err)
	}
	return mod.Go
}

// TestGoLineIsTheFloor checks that go.mod asks for the lowest Go the
// module can be built with: the highest go line among the modules it
// builds with (a dependency's go line is a floor the go command enforces,
// and no patch release adds to the language or the standard library), and
// that the README names the same release.
func TestGoLineIsTheFloor(t *testing.T) {
	root := moduleRoot(t)
	line := goLine(t, root)
	floor, from := "", ""
	for _, l := range strings.Split(strings.TrimSpace(goCmd(t, root, "-mod=readonly", "list", "-m", "-f", "{{if not .Main}}{{.GoVersion}} {{.Path}}{{end}}", "all")), "\n") {
		v, path, ok := strings.Cut(l, " ")
		if !ok || v == "" {
			continue // a module whose go.mod the pruned graph never reads
		}
		if floor == "" || versionLess(floor, v) {
			floor, from = v, path
		}
	}
	// "1.26" and "1.26.0" are one floor here: a dependency may write
	// either (go-ds-pebble writes the first, golang.org/x the second).
	if versionLess(line, floor) || versionLess(floor, line) {
		t.Errorf("go.mod says go %s; the highest go line among the dependencies is %s (%s): want go %s, the lowest Go that builds the module",
			line, floor, from, floor)
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Go (1\.\d+) or later`).FindSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md does not say "Go 1.N or later"`)
	}
	if want := majorMinor(line); string(m[1]) != want {
		t.Errorf("README.md says Go %s or later; go.mod's go line %s is Go %s", m[1], line, want)
	}
}

// majorMinor is "1.26" of "1.26.0".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// versionLess orders release versions such as 1.25.7 and 1.26.0.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = atoi(pa[i])
		}
		if i < len(pb) {
			y = atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestImporterModuleGraph builds the module graph of a small program that
// imports p2pshare, as its author's go mod tidy would, and checks that no
// module only this project's tests need reaches its graph or its go.sum.
func TestImporterModuleGraph(t *testing.T) {
	root := moduleRoot(t)
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/importer\n\ngo " + goLine(t, root) + "\n\nrequire github.com/p2pshare/p2pshare v0.0.0\n\n" +
			"replace github.com/p2pshare/p2pshare => " + root + "\n",
		"main.go": "package main\n\nimport _ \"github.com/p2pshare/p2pshare/p2pshare\"\n\nfunc main() {}\n",
	}
	// The project's go.sum holds every checksum the importer can need:
	// tidy keeps what it uses, and no checksum database is asked.
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.sum"] = string(sum)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd(t, dir, "-mod=mod", "mod", "tidy")

	graph := goCmd(t, dir, "-mod=mod", "mod", "graph")
	tidied, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"go mod graph": graph, "go.sum": string(tidied)} {
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			for _, m := range testOnlyModules {
				if strings.Contains(sc.Text(), m) {
					t.Errorf("the importer's %s has %q: %s is needed by this project's tests only", what, sc.Text(), m)
				}
			}
		}
	}
}
