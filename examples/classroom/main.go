// Command classroom is the one-command local demo of p2pshare: it starts a
// seeder and N leechers on loopback, all fetching one random file at once,
// shows their progress, and then compares the makespan with the best any
// schedule could do.
//
//	go run ./examples/classroom [-n 30] [-size 128MiB] [-seed-up 8MiB] [-up 4MiB]
//	        [-down 8MiB] [-timeout 10m] [-inprocess] [-keep] [-json-out PATH]
//
// Each node is a process (this binary, re-run with a hidden first argument)
// unless -inprocess runs them all as goroutines of this one. The summary
// goes to stdout; it exits non-zero if any leecher failed or fetched content
// that differs from the source.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
)

const usage = `usage: classroom [-n 30] [-size 128MiB] [-seed-up 8MiB] [-up 4MiB] [-down 8MiB]
        [-timeout 10m] [-inprocess] [-keep] [-json-out PATH]`

type options struct {
	n                int
	size             flagx.ByteSize
	seedUp, up, down flagx.ByteRate
	timeout          time.Duration
	inprocess, keep  bool
	jsonOut          string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == nodeCommand {
		os.Exit(nodeMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) int {
	fs := flag.NewFlagSet("classroom", flag.ContinueOnError)
	o := options{n: 30, size: 128 << 20, seedUp: 8 << 20, up: 4 << 20, down: 8 << 20}
	fs.IntVar(&o.n, "n", o.n, "how many leechers")
	fs.Var(&o.size, "size", "the file's `size`: 4000000, 4M (x1000) or 4MiB (x1024) (default 128MiB)")
	fs.Var(&o.seedUp, "seed-up", "the seeder's upload cap, a `rate` in bytes/s; 0 is none (default 8MiB)")
	fs.Var(&o.up, "up", "each leecher's upload cap, a `rate` in bytes/s; 0 is none (default 4MiB)")
	fs.Var(&o.down, "down", "each leecher's download cap, a `rate` in bytes/s; 0 is none (default 8MiB)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up if the class has not finished by then")
	fs.BoolVar(&o.inprocess, "inprocess", false, "run every node as a goroutine of this process")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder with the source and the outputs")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the result as JSON to `path`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err == nil {
		err = o.check(fs)
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "classroom: %s\n", console.Line(err))
		fs.Usage()
		return 2
	}
	res, err := demo(ctx, o, stderr)
	if res != nil {
		res.print(stdout)
		if o.jsonOut != "" {
			if werr := res.write(o.jsonOut); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err == nil && res.failed() {
		err = fmt.Errorf("%d of %d leechers failed or fetched wrong content", o.n-res.Verified, o.n)
	}
	if err != nil {
		fmt.Fprintf(stderr, "classroom: %s\n", console.Line(err))
		return 1
	}
	return 0
}

func (o *options) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.n < 1:
		return fmt.Errorf("-n %d: want at least 1 leecher", o.n)
	case o.size < 1:
		return fmt.Errorf("-size %d: want at least 1 byte", o.size)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v is not positive", o.timeout)
	}
	return nil
}

// demo makes the file, runs the class and checks the outputs. A nil result
// means there is nothing to summarise.
func demo(ctx context.Context, o options, stderr *os.File) (*result, error) {
	dir, err := os.MkdirTemp("", "classroom-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(stderr, "classroom: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	src := filepath.Join(dir, "source.bin")
	sum, err := randomFile(src, int64(o.size))
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		return nil, err
	}
	c := newClass(o, stderr)
	var l launcher = goroutines{events: c.events}
	if !o.inprocess {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program to run its nodes: %w", err)
		}
		l = processes{exe: exe, events: c.events}
	}
	runErr := c.run(ctx, l, src, filepath.Join(dir, "out"))
	c.verify(sum)
	return c.result(), runErr
}

// randomFile writes size random bytes to path and returns their SHA-256.
func randomFile(path string, size int64) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	h := sha256.New()
	_, err = io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8(seed), size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, fmt.Errorf("writing the source file: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// fileSum is the SHA-256 of the file at path.
func fileSum(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
