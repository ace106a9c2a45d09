package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal cols columns wide: a program's stderr
// goes to tty, and what it draws there collects in out.
type terminal struct {
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func newTerminal(t *testing.T, cols uint16) *terminal {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatalf("sizing the pseudo-terminal: %v", err)
	}
	term := &terminal{tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			term.mu.Lock()
			term.out.Write(b[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once every end of tty is closed
			}
		}
	}()
	t.Cleanup(func() { tty.Close(); ptmx.Close(); <-term.done })
	return term
}

// lines is every line drawn so far: the output split at carriage returns
// and newlines.
func (term *terminal) lines() []string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return strings.FieldsFunc(term.out.String(), func(r rune) bool { return r == '\r' || r == '\n' })
}

// TestProgressBarFitsTerminal: on a terminal 60 columns wide, no line the
// leecher draws is wider than 59 (a full line wraps on some terminals),
// and a bar is drawn; with stderr piped there is no bar at all.
func TestProgressBarFitsTerminal(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 256<<10)
	s := startSeeder(t, bin["seeder"], src)
	term := newTerminal(t, 60)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin["leecher"], "-invite", s.Invite, "-infohash", s.Infohash,
		"-out", filepath.Join(dir, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
	cmd.Env = freshUser(t)
	cmd.Stdout, cmd.Stderr = io.Discard, term.tty
	if err := cmd.Run(); err != nil {
		t.Fatalf("leecher on a terminal: %v\n%q", err, term.lines())
	}
	drawn := false
	for _, l := range term.lines() {
		if n := utf8.RuneCountInString(l); n > 59 {
			t.Errorf("a line %d wide on a terminal 60 wide: %q", n, l)
		}
		drawn = drawn || strings.Contains(l, "[#")
	}
	if !drawn {
		t.Errorf("no bar drawn on the terminal: %q", term.lines())
	}

	r := run(t, bin["leecher"], "-invite", s.Invite, "-infohash", s.Infohash,
		"-out", filepath.Join(dir, "piped"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
	if r.code != 0 || strings.ContainsAny(r.stderr, "\r#") {
		t.Errorf("leecher with stderr piped: exit %d, stderr %q; want 0 and no bar", r.code, r.stderr)
	}
}

// TestSeederShowsUploads: on a terminal the seeder keeps a line of what it
// has sent, and to how many peers, while it seeds.
func TestSeederShowsUploads(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	term := newTerminal(t, 100)
	cmd := exec.Command(bin["seeder"], "-file", src, "-listen", "/ip4/127.0.0.1/tcp/0")
	cmd.Env = freshUser(t)
	cmd.Stderr = term.tty
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	var s seeder
	if err != nil || json.Unmarshal(line, &s) != nil {
		t.Fatalf("seeder printed %q (%v)", line, err)
	}
	r := run(t, bin["leecher"], "-invite", s.Invite, "-infohash", s.Infohash,
		"-out", filepath.Join(dir, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done")
	if r.code != 0 {
		t.Fatalf("leecher: exit %d\n%s", r.code, r.stderr)
	}
	sent := regexp.MustCompile(`^seeding source\.bin  sent \d[\d.]* KiB \(\d+\.\d copies\)  up .*/s  peers \d+$`)
	for end := time.Now().Add(deadline); ; {
		for _, l := range term.lines() {
			if sent.MatchString(strings.TrimSpace(l)) {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("the seeder's terminal never showed the 64 KiB it sent: %q", term.lines())
		}
		time.Sleep(50 * time.Millisecond) // polling the terminal, with a deadline
	}
}
