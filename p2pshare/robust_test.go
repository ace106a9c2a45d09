package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// robustSize and robustPiece shape the share of the seed-loss tests: 128
// pieces, enough to spread unevenly across a class.
const (
	robustSize  = 8 << 20
	robustPiece = 64 << 10
)

// class is a set of members fetching one share, with their events merged
// onto one channel so that a test can wait on the class as a whole.
type class struct {
	want      []byte
	pieceSize int64
	downloads []*Download
	events    chan memberEvent
}

// memberEvent is an event of the class's member i.
type memberEvent struct {
	i int
	Event
}

// startClass makes n members of boot's network fetch ih into dir.
func startClass(ctx context.Context, t *testing.T, boot *Swarm, ih Infohash, dir string, n int, want []byte) *class {
	t.Helper()
	c := &class{want: want, pieceSize: robustPiece, events: make(chan memberEvent, 1024)}
	for i := range n {
		m := testNode(t, boot, nil)
		d, err := m.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, m.ID().String())})
		if err != nil {
			t.Fatalf("member %d: Fetch: %v", i, err)
		}
		c.downloads = append(c.downloads, d)
		go func() {
			for e := range d.Events() {
				select {
				case c.events <- memberEvent{i, e}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return c
}

// next is the class's next event; it fails the test if ctx ends first.
func (c *class) next(ctx context.Context, t *testing.T) memberEvent {
	t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-ctx.Done():
		t.Fatalf("waiting on the class: %v", ctx.Err())
		return memberEvent{}
	}
}

// held marks in have the pieces some member holds: a piece event says so,
// and a member's file says so too once its bytes equal the source's (the
// bytes are random, and a piece is written only after it verified), which
// catches events a busy channel dropped. It returns how many are marked.
func (c *class) held(have []bool) int {
	for _, d := range c.downloads {
		b, err := os.ReadFile(d.Path() + ".p2pshare-part")
		if err != nil {
			b, _ = os.ReadFile(d.Path()) // complete already
		}
		for i := range have {
			lo, hi := int64(i)*c.pieceSize, min(int64(i+1)*c.pieceSize, int64(len(c.want)))
			if !have[i] && int64(len(b)) >= hi && bytes.Equal(b[lo:hi], c.want[lo:hi]) {
				have[i] = true
			}
		}
	}
	n := 0
	for _, h := range have {
		if h {
			n++
		}
	}
	return n
}

// waitAll waits for every member to complete and checks its file.
func (c *class) waitAll(ctx context.Context, t *testing.T) {
	t.Helper()
	for i, d := range c.downloads {
		if err := d.Wait(ctx); err != nil {
			t.Errorf("member %d: %v", i, err)
			continue
		}
		if got, err := os.ReadFile(d.Path()); err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("member %d: content differs from the source (%v)", i, err)
		}
	}
}

// TestSeedLeavesWhenAllPiecesSpread: the only seeder, its upload capped,
// leaves as soon as every piece is held by some member of a class of five;
// the class completes from itself.
func TestSeedLeavesWhenAllPiecesSpread(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	seeder := testNode(t, boot, func(c *Config) { c.UploadLimit = 4 << 20 })
	src, want := randomFile(t, dir, robustSize)
	ih, err := seeder.Share(ctx, src, ShareOptions{PieceSize: robustPiece})
	if err != nil {
		t.Fatal(err)
	}
	c := startClass(ctx, t, boot, ih, filepath.Join(dir, "out"), 5, want)
	have := make([]bool, robustSize/robustPiece)
	for n := 0; n < len(have); {
		e := c.next(ctx, t)
		switch e.Kind {
		case EventPiece:
			if !have[e.Piece] {
				have[e.Piece] = true
				n++
			}
		case EventProgress:
			n = c.held(have)
		}
	}
	p, _ := seeder.Progress(ih)
	t.Logf("every piece is in the class; the seeder leaves having uploaded %.2f x the file", float64(p.Uploaded)/robustSize)
	seeder.Close()
	c.waitAll(ctx, t)
}

// TestSeedLeavesEarlyAndReturns: the only seeder leaves after about a fifth
// of the file went out; the class holds only part of it and waits, without
// failing; a seeder of the same file joins and the class completes. The
// network's bootstrap is a separate node that never shares, so that the
// returning seeder can join.
func TestSeedLeavesEarlyAndReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	seeder := testNode(t, boot, func(c *Config) { c.UploadLimit = 2 << 20 })
	src, want := randomFile(t, dir, robustSize)
	ih, err := seeder.Share(ctx, src, ShareOptions{PieceSize: robustPiece})
	if err != nil {
		t.Fatal(err)
	}
	// The seeder leaves once it has sent a fifth of the file, watched on
	// its own from before the class starts: joining the class takes
	// seconds on a loaded machine, and the first members fetch meanwhile.
	left := make(chan int64, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if p, _ := seeder.Progress(ih); p.Uploaded >= robustSize/5 {
				seeder.Close()
				left <- p.Uploaded
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				left <- -1
				return
			}
		}
	}()
	c := startClass(ctx, t, boot, ih, filepath.Join(dir, "out"), 5, want)
	sent := <-left
	if sent < 0 {
		t.Fatal("the seeder did not send a fifth of the file in time")
	}
	t.Logf("the seeder left having uploaded %.2f x the file", float64(sent)/robustSize)

	// The class stalls: wait until four progress rounds of every member (two
	// seconds of the sessions' own clock) pass with no member gaining a byte.
	have := make([]bool, robustSize/robustPiece)
	last := make([]int64, len(c.downloads))
	quiet := make([]int, len(c.downloads))
	for stalled := 0; stalled < len(c.downloads); {
		e := c.next(ctx, t)
		if e.Kind == EventComplete || e.Kind == EventFailed {
			t.Fatalf("member %d: %s with the seeder gone, holding part of the file: %v", e.i, e.Kind, e.Err)
		}
		if e.Kind != EventProgress {
			continue
		}
		if e.Progress.Bytes != last[e.i] {
			last[e.i], quiet[e.i] = e.Progress.Bytes, 0
			continue
		}
		if quiet[e.i]++; quiet[e.i] == 4 {
			stalled++
		}
	}
	n := c.held(have)
	if n == len(have) {
		t.Fatalf("the class holds all %d pieces after the seeder left early; the test wants it to hold part", n)
	}
	t.Logf("the class stalled holding %d of %d pieces", n, len(have))
	for i, d := range c.downloads {
		select {
		case <-d.se.Done():
			t.Fatalf("member %d stopped with the seeder gone: %v", i, d.Wait(ctx))
		default:
		}
	}

	back := testNode(t, boot, nil)
	ih2, err := back.Share(ctx, src, ShareOptions{PieceSize: robustPiece})
	if err != nil {
		t.Fatal(err)
	}
	if ih2 != ih {
		t.Fatalf("re-sharing the file gave infohash %s, want %s", ih2, ih)
	}
	c.waitAll(ctx, t)
}

// TestDiskFullStopsAndResumes fetches 8 MiB into a 4 MiB tmpfs: the fetch
// stops with an error that names the path and the cause, the state file
// records only pieces whose bytes are on disk, and once the tmpfs grows a
// fetch into the same path resumes from them and completes. It mounts, so
// it runs only as root on Linux.
func TestDiskFullStopsAndResumes(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("disk full is tested on a small tmpfs, which needs root on Linux")
	}
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (no CAP_SYS_ADMIN in this container?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		// Lazily: a session that stopped never closes its storage (see
		// swarm.Session.Close), so the failed fetch's files stay open
		// until the process ends and a plain umount says busy.
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The cap makes the tmpfs fill in about four seconds, so that a few
	// Syncs (one a second) record pieces before it is full.
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	src, want := randomFile(t, t.TempDir(), robustSize)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: robustPiece})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(mnt, "image.bin")
	d, err := testNode(t, seed, nil).Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Wait(ctx)
	if part := strconv.Quote(out + ".p2pshare-part"); err == nil || !strings.Contains(err.Error(), part) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("fetching %d bytes into a 4 MiB tmpfs: %v, want an error naming %s and the full disk", robustSize, err, part)
	}
	t.Logf("disk full: %v", err)
	claimed := statePieces(t, out, robustSize/robustPiece)
	part, err := os.ReadFile(out + ".p2pshare-part")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range claimed {
		lo, hi := int64(i)*robustPiece, int64(i+1)*robustPiece
		if int64(len(part)) < hi || !bytes.Equal(part[lo:hi], want[lo:hi]) {
			t.Fatalf("the state file records piece %d, but its bytes on disk differ from the source", i)
		}
	}

	if out, err := exec.Command("mount", "-o", "remount,size=16m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v: %s", err, out)
	}
	// A new node, so as not to depend on when the failed session leaves the
	// first one's table; the resume is the storage's doing.
	d, err = testNode(t, seed, nil).Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if got, min := d.Progress().Bytes, int64(len(claimed))*robustPiece; got < min {
		t.Errorf("resumed with %d bytes, the state file recorded %d", got, min)
	}
	t.Logf("resumed with %d of %d pieces the state file recorded", d.Progress().Pieces, len(claimed))
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("after the disk grew: %v", err)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the disk grew: content differs from the source (%v)", err)
	}
}

// statePieces decodes the state file of a fetch to out by its documented
// layout (magic | identity [32]byte | piece count uint32 | MSB-first
// bitfield) and returns the pieces it records. No file records none.
func statePieces(t *testing.T, out string, pieces int) []int {
	t.Helper()
	const magic = "p2pshare state v1\n"
	b, err := os.ReadFile(out + ".p2pshare-state")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != len(magic)+32+4+(pieces+7)/8 || !strings.HasPrefix(string(b), magic) {
		t.Fatalf("state file %s is %d bytes, not a state file for %d pieces", out+".p2pshare-state", len(b), pieces)
	}
	var claimed []int
	for i, bits := 0, b[len(magic)+32+4:]; i < pieces; i++ {
		if bits[i/8]&(0x80>>(i%8)) != 0 {
			claimed = append(claimed, i)
		}
	}
	return claimed
}
