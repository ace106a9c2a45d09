package examples_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestClassroomServesClassPage: classroom -http prints where the teacher's
// page of the demo class is, and serves it there, with its JSON, while the
// class runs; the class still ends as it would without.
func TestClassroomServesClassPage(t *testing.T) {
	bin := build(t, "classroom")["classroom"]
	cmd := exec.Command(bin, "-n", "2", "-size", "8MiB", "-seed-up", "1MiB", "-up", "1MiB", "-down", "1MiB", "-http", ":0")
	cmd.Env = freshUser(t)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	found := make(chan string, 1)
	var said strings.Builder
	saidc := make(chan string, 1)
	go func() {
		page := regexp.MustCompile(`classroom: the teacher's page, the class's progress live: http://(127\.0\.0\.1:\d+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if m := page.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		saidc <- said.String()
		close(found)
	}()
	var addr string
	select {
	case a, ok := <-found:
		if !ok {
			t.Fatalf("classroom -http never said where its page is:\n%s", <-saidc)
		}
		addr = a
	case <-time.After(deadline):
		t.Fatalf("classroom -http said nothing of its page within %v", deadline)
	}
	resp, err := http.Get("http://" + addr + "/status.json")
	if err != nil {
		t.Fatalf("the class page's JSON: %v", err)
	}
	var snap struct {
		Share     string `json:"share"`
		Name      string `json:"name"`
		Size      int64  `json:"size"`
		Receivers *int   `json:"receivers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || snap.Name != "source.bin" || snap.Size != 8<<20 || snap.Receivers == nil {
		t.Errorf("GET /status.json: %s, %+v (%v); want the demo class's share, source.bin of 8 MiB", resp.Status, snap, err)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("the class page: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(strings.ToLower(string(b)), "<html") {
		t.Errorf("GET /: %s, %.200q; want the page", resp.Status, b)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("classroom -http: %v\n%s", err, <-saidc)
	}

	r := run(t, bin, "-http", "192.0.2.1:80", "-n", "1")
	if r.code != 2 || !strings.Contains(r.stderr, "not a loopback address") {
		t.Errorf("classroom -http 192.0.2.1:80: exit %d, stderr %q; want 2 and a refusal", r.code, r.stderr)
	}
}
