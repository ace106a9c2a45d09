package browsertest_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The example programs as a user runs them, the way the p2pshare module's
// examples tests run them (examples/examples_test.go): built with go build,
// started as processes, talking over loopback, writing real files.

// deadline bounds each program a test waits for.
const deadline = 45 * time.Second

// build compiles the example programs of the p2pshare module, two folders
// up, into a temporary folder, with that module's own go.mod, and returns
// the path of each by name.
func build(t *testing.T, names ...string) map[string]string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./examples/"+n)
	}
	// The toolchain that built this test, not whichever go is first on PATH.
	//lint:ignore SA1019 a test binary runs where it was built, so its GOROOT is meaningful.
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), root, err, out)
	}
	bins := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if runtime.GOOS == "windows" {
			p += ".exe"
		}
		bins[n] = p
	}
	return bins
}

// freshUser is the environment of a new user whose home is an empty
// temporary folder: the programs' default data folders (in
// os.UserConfigDir) are inside it, never the real user's.
func freshUser(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"AppData="+filepath.Join(home, "AppData"))
}

// randomFile writes size random bytes to a new file in dir.
func randomFile(t *testing.T, dir string, size int) string {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, "source.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

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

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// pageSeeder is what a seeder with -http printed.
type pageSeeder struct {
	Infohash string `json:"infohash"`
	Invite   string `json:"invite"`
	HTTP     string `json:"http"`
}

// startPageSeeder starts a seeder named teacher of file on loopback, with
// the class page on a loopback port, and reads its line.
func startPageSeeder(t *testing.T, bin, file string, args ...string) pageSeeder {
	t.Helper()
	p := startProc(t, bin, append([]string{"-file", file, "-listen", "/ip4/127.0.0.1/tcp/0", "-name", "teacher",
		"-http", "127.0.0.1:0"}, args...)...)
	var s pageSeeder
	p.line(t, &s)
	if s.Infohash == "" || s.Invite == "" || !strings.HasPrefix(s.HTTP, "127.0.0.1:") {
		t.Fatalf("seeder printed %+v: want an infohash, an invite, and the page on 127.0.0.1", s)
	}
	return s
}

// leech starts a leecher of the seeder's share on loopback, with -json.
func leech(t *testing.T, bin string, s pageSeeder, name, out string, args ...string) *proc {
	t.Helper()
	return startProc(t, bin, append([]string{"-invite", s.Invite, "-infohash", s.Infohash, "-name", name,
		"-out", out, "-listen", "/ip4/127.0.0.1/tcp/0", "-json"}, args...)...)
}
