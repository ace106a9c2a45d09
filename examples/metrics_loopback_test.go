package examples_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsLoopbackOnly: -metrics :PORT listens on loopback, as -http
// does; a non-loopback address is refused without -metrics-remote, by the
// seeder and the leecher alike, before either joins anything.
func TestMetricsLoopbackOnly(t *testing.T) {
	t.Parallel()
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)

	p := startProc(t, bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0", "-metrics", ":0")
	var s struct {
		Metrics string `json:"metrics"`
	}
	p.line(t, &s)
	if !strings.HasPrefix(s.Metrics, "127.0.0.1:") {
		t.Errorf("-metrics :0 listens on %q, want 127.0.0.1", s.Metrics)
	}

	for _, c := range []struct {
		prog string
		args []string
		says string
	}{
		{"seeder", []string{"-file", src, "-metrics", "0.0.0.0:0"}, "-metrics 0.0.0.0:0 is not a loopback address: add -metrics-remote"},
		{"seeder", []string{"-file", src, "-metrics-remote"}, "-metrics-remote needs -metrics"},
		{"leecher", []string{"-invite", "x", "-infohash", "x", "-out", filepath.Join(dir, "out"), "-metrics", "0.0.0.0:0"}, "-metrics 0.0.0.0:0 is not a loopback address: add -metrics-remote"},
	} {
		r := run(t, bin[c.prog], append([]string{"-listen", "/ip4/127.0.0.1/tcp/0"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", c.prog, strings.Join(c.args, " "), r.code, r.stderr, c.says)
		}
	}
}
