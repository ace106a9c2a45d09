package examples_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// coordSeeder is what a co-coordinator seeder printed.
type coordSeeder struct {
	Infohash string   `json:"infohash"`
	Addrs    []string `json:"addrs"`
	HTTP     string   `json:"http"`
}

// classLine is a member's line of /status.json.
type classLine struct {
	Name   string  `json:"name"`
	State  string  `json:"state"`
	Silent float64 `json:"silent_seconds"`
}

// TestCoordinatorServesWholeClass: a co-coordinator's class page shows the
// whole class, and goes on doing so when the bootstrap dies. The
// bootstrap A (seeder -coordinators) appoints B (with -http) and C; s1
// joins through A and stays; A is killed (SIGKILL); s2 joins through B.
// B's /status.json then lists s1, which reports to B since A's death (it
// learned the coordinators from A), C, which reports its own share to the
// other coordinators, and s2.
func TestCoordinatorServesWholeClass(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL to send")
	}
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 256<<10)
	a := startConsole(t, bin["seeder"], src, "-coordinators", "ta-b,ta-c", "-name", "teacher",
		"-data", filepath.Join(dir, "a"), "-log-level", "warn")
	co := func(name string, more ...string) coordSeeder {
		p := startProc(t, bin["seeder"], append([]string{"-file", src, "-listen", "/ip4/127.0.0.1/tcp/0",
			"-invite", a.s.Invite, "-name", name, "-coordinator", "-data", filepath.Join(dir, name), "-log-level", "warn"}, more...)...)
		var s coordSeeder
		p.line(t, &s)
		return s
	}
	b := co("ta-b", "-http", "127.0.0.1:0")
	co("ta-c")
	if b.HTTP == "" {
		t.Fatal("B printed no class page address")
	}
	// s1 joins through A with A's invite, fetches the share and stays.
	startProc(t, bin["leecher"], "-invite", a.s.Invite, "-infohash", a.s.Infohash, "-name", "s1",
		"-out", filepath.Join(dir, "s1", "copy"), "-data", filepath.Join(dir, "s1"), "-listen", "/ip4/127.0.0.1/tcp/0")
	waitClass(t, b.HTTP, "B's class page to list s1, admitted through A", func(m map[string]classLine, _ time.Time) bool {
		return m["s1"].State != "" && m["s1"].State != "gone"
	})

	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	s2 := filepath.Join(dir, "s2")
	r := run(t, bin["leecher"], "-invite", a.s.Invite, "-name", "s2", "-data", s2, "-infohash", a.s.Infohash,
		"-out", filepath.Join(s2, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done",
		"-bootstrap", loopbackAddr(t, b.Addrs))
	if r.code != 0 {
		t.Fatalf("s2 through B, A killed: exit %d\n%s", r.code, r.stderr)
	}
	// Each of s1 and C must have reported to B since A's death: its last
	// report at B came after the kill (asked is before B's snapshot, so
	// asked minus its silence is no later than that report).
	since := func(l classLine, asked time.Time) bool {
		return l.State != "" && l.State != "gone" && asked.Add(-time.Duration(l.Silent*float64(time.Second))).After(killed)
	}
	waitClass(t, b.HTTP, "B's class page to list s1 and C reporting since A's death, and s2", func(m map[string]classLine, asked time.Time) bool {
		_, s2 := m["s2"]
		_, self := m["ta-b"]
		return since(m["s1"], asked) && since(m["ta-c"], asked) && s2 && self
	})
}

// waitClass polls the class page's /status.json at addr until ok holds of
// its members by name, or fails the test after deadline. ok is also
// given when the request was made.
func waitClass(t *testing.T, addr, what string, ok func(m map[string]classLine, asked time.Time) bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	var last string
	for {
		asked := time.Now()
		m, err := classLines(addr)
		if err == nil && ok(m, asked) {
			return
		}
		last = fmt.Sprintf("%v %v", m, err)
		if time.Now().After(end) {
			t.Fatalf("waited %v for %s; last: %s", deadline, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// classLines reads the members of addr's /status.json, by name.
func classLines(addr string) (map[string]classLine, error) {
	resp, err := http.Get("http://" + addr + "/status.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /status.json: %s", resp.Status)
	}
	var snap struct {
		Members []classLine `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return nil, err
	}
	m := map[string]classLine{}
	for _, l := range snap.Members {
		m[strings.TrimSpace(l.Name)] = l
	}
	return m, nil
}
