package examples_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// proc is a running example program whose stdout lines arrive on lines
// (closed at its end). At cleanup it is interrupted, and killed if it does
// not exit.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	exited chan struct{}
	mu     sync.Mutex
	errb   bytes.Buffer
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 1024), exited: make(chan struct{})}
	p.cmd.Env = freshUser(t)
	p.cmd.Stderr = lockedWriter{p}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody reads them any more
			}
		}
		close(p.lines)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(deadline):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.errb.Write(b)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// line is the program's next line on stdout, decoded into v.
func (p *proc) line(t *testing.T, v any) {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%s exited without the line expected\nstderr:\n%s", filepath.Base(p.cmd.Path), p.stderr())
		}
		if err := json.Unmarshal([]byte(l), v); err != nil {
			t.Fatalf("%s printed %q: %v", filepath.Base(p.cmd.Path), l, err)
		}
	case <-time.After(deadline):
		t.Fatalf("%s printed nothing within %v\nstderr:\n%s", filepath.Base(p.cmd.Path), deadline, p.stderr())
	}
}

// pageSeeder is what a seeder with -http and -metrics printed.
type pageSeeder struct {
	Infohash string `json:"infohash"`
	Invite   string `json:"invite"`
	HTTP     string `json:"http"`
	Metrics  string `json:"metrics"`
}

// startPageSeeder starts a seeder named teacher of file on loopback, with
// the class page and metrics on loopback ports, and reads its line.
func startPageSeeder(t *testing.T, bin, file string, args ...string) (*proc, pageSeeder) {
	t.Helper()
	p := startProc(t, bin, append([]string{"-file", file, "-listen", "/ip4/127.0.0.1/tcp/0", "-name", "teacher",
		"-http", "127.0.0.1:0", "-metrics", "127.0.0.1:0"}, args...)...)
	var s pageSeeder
	p.line(t, &s)
	if s.Infohash == "" || !strings.HasPrefix(s.HTTP, "127.0.0.1:") || !strings.HasPrefix(s.Metrics, "127.0.0.1:") {
		t.Fatalf("seeder printed %+v: want an infohash, and the page and metrics on 127.0.0.1", s)
	}
	return p, s
}

// leech starts a leecher of the seeder's share on loopback, with -json.
func leech(t *testing.T, bin string, s pageSeeder, name, out string, args ...string) *proc {
	t.Helper()
	return startProc(t, bin, append([]string{"-invite", s.Invite, "-infohash", s.Infohash, "-name", name,
		"-out", out, "-listen", "/ip4/127.0.0.1/tcp/0", "-json"}, args...)...)
}

// TestMetricsEndpoint scrapes a leecher's -metrics endpoint while it
// fetches: the byte counters rise, and the exposition passes Prometheus's
// linter. The seeder's endpoint carries the admissions and class states.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	const size = 4 << 20
	src, _ := randomFile(t, dir, size)
	_, seed := startPageSeeder(t, bin["seeder"], src, "-up", "4MiB")
	p := leech(t, bin["leecher"], seed, "ana", filepath.Join(dir, "out.bin"), "-down", "1MiB", "-metrics", "127.0.0.1:0")
	var start struct {
		Event   string `json:"event"`
		Metrics string `json:"metrics"`
		Pieces  int    `json:"pieces"`
	}
	p.line(t, &start)
	if start.Event != "start" || !strings.HasPrefix(start.Metrics, "127.0.0.1:") {
		t.Fatalf("first line %+v: want a start event with the metrics address on 127.0.0.1", start)
	}
	key := `p2pshare_downloaded_bytes_total{share="` + seed.Infohash + `"}`
	var seen []float64
	deadline := time.Now().Add(deadline)
	for len(seen) < 3 && time.Now().Before(deadline) {
		text := scrape(t, "http://"+start.Metrics+"/metrics")
		if v, ok := sample(text, key); ok && v > 0 && v < size && (len(seen) == 0 || v > seen[len(seen)-1]) {
			seen = append(seen, v)
		}
		if len(seen) == 1 {
			lint(t, text)
		}
		time.Sleep(100 * time.Millisecond) // between scrapes; the loop waits on the values, with a deadline
	}
	if len(seen) < 3 {
		t.Fatalf("%s took %v over the fetch, want three rising values below the size", key, seen)
	}
	// Once the fetch is done, every piece it received counts, from the
	// first, and none failed.
	var ev struct {
		Event string `json:"event"`
	}
	for ev.Event != "done" {
		p.line(t, &ev)
	}
	text := scrape(t, "http://"+start.Metrics+"/metrics")
	share := `{share="` + seed.Infohash + `"}`
	for k, want := range map[string]float64{"p2pshare_pieces_verified_total" + share: float64(start.Pieces), "p2pshare_pieces_failed_total" + share: 0} {
		if v, ok := sample(text, k); !ok || v != want {
			t.Errorf("after the fetch: %s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	text = scrape(t, "http://"+seed.Metrics+"/metrics")
	lint(t, text)
	for _, want := range []string{`p2pshare_admissions_total{result="accepted"} 1`, `p2pshare_uploaded_bytes_total{share="` + seed.Infohash + `"}`,
		"libp2p_swarm_", "libp2p_rcmgr_", "go_goroutines", `p2pshare_class_members{share="` + seed.Infohash + `",state="`} {
		if !strings.Contains(text, want) {
			t.Errorf("the seeder's metrics lack %q", want)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(b)
}

// sample finds the value of the series key (name{labels}) in an exposition.
func sample(text, key string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			var v float64
			_, err := fmt.Sscan(rest, &v)
			return v, err == nil
		}
	}
	return 0, false
}

// lint runs Prometheus's linter (promtool's) over the p2pshare families of
// an exposition; libp2p's and the runtime's are theirs to keep clean.
func lint(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "p2pshare_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestClassPageLoopbackOnly checks that the page and its JSON answer this
// machine only: the seeder refuses to serve them on another address without
// -http-remote, refuses requests naming another host, and with -http-remote
// answers other machines and says so.
func TestClassPageLoopbackOnly(t *testing.T) {
	t.Parallel()
	bin := build(t, "seeder")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 1<<20)

	r := run(t, bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0", "-http", "0.0.0.0:0")
	if r.code == 0 || !strings.Contains(r.stderr, "-http 0.0.0.0:0 is not a loopback address") {
		t.Errorf("-http 0.0.0.0:0: exit %d, stderr %q; want a refusal naming -http-remote", r.code, r.stderr)
	}

	_, seed := startPageSeeder(t, bin["seeder"], src)
	get := func(url, host string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/", "/status.json"} {
		if code := get("http://"+seed.HTTP+path, ""); code != http.StatusOK {
			t.Errorf("GET %s from loopback: %d, want 200", path, code)
		}
		if code := get("http://"+seed.HTTP+path, "class.example.org"); code != http.StatusForbidden {
			t.Errorf("GET %s naming another host: %d, want 403", path, code)
		}
	}

	ip := nonLoopbackIP()
	if ip == "" {
		t.Log("this machine has no address but loopback: requests from other machines are refused in classweb's own test only")
		return
	}
	r = run(t, bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0", "-http", net.JoinHostPort(ip, "0"))
	if r.code == 0 || !strings.Contains(r.stderr, "is not a loopback address") {
		t.Errorf("-http %s:0: exit %d, stderr %q; want a refusal naming -http-remote", ip, r.code, r.stderr)
	}
	p, remote := startProc(t, bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0", "-http", ":0", "-http-remote"), pageSeeder{}
	p.line(t, &remote)
	_, port, _ := net.SplitHostPort(remote.HTTP)
	if code := get("http://"+net.JoinHostPort(ip, port)+"/status.json", ""); code != http.StatusOK {
		t.Errorf("GET /status.json from %s with -http-remote: %d, want 200", ip, code)
	}
	if !strings.Contains(p.stderr(), "answers other machines too (-http-remote)") {
		t.Errorf("the seeder did not say the page answers other machines; stderr: %q", p.stderr())
	}
}

func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
