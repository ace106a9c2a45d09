package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// ErrMismatch is wrapped by the error of OpenVerified when the content on
// disk is not the share's: a file of another size, or pieces whose hashes
// differ from the manifest's. Its *MismatchError says how much matched.
var ErrMismatch = errors.New("storage: content does not match the share")

// MismatchError says how content on disk differs from its share: a file
// whose size is not the manifest's, or else pieces whose hash is not.
type MismatchError struct {
	// Path is the file of the wrong size, or the share's root.
	Path string
	// Size and WantSize are the file's size on disk and in the manifest,
	// when the sizes differ (then the pieces were not hashed).
	Size, WantSize int64
	// Matched of Pieces hashed as the manifest says; FirstBad is the first
	// piece that did not, and FirstBadOffset its content offset.
	Matched, Pieces int
	FirstBad        int
	FirstBadOffset  int64
	FirstBadLen     int64
}

func (e *MismatchError) Error() string {
	if e.Size != e.WantSize {
		return fmt.Sprintf("storage: %s has %d bytes, the share's has %d", e.Path, e.Size, e.WantSize)
	}
	return fmt.Sprintf("storage: %s does not match the share: %d of %d pieces match; the first bad piece is %d (bytes %d to %d)",
		e.Path, e.Matched, e.Pieces, e.FirstBad, e.FirstBadOffset, e.FirstBadOffset+e.FirstBadLen)
}

// Unwrap makes errors.Is find ErrMismatch.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// VerifyOptions tune OpenVerified. The zero value is ready to use.
type VerifyOptions struct {
	// Workers is how many pieces are read and hashed at once; 0 means
	// runtime.GOMAXPROCS(0), one per core.
	Workers int
	// Progress, if not nil, is called from one goroutine at a time as
	// pieces are hashed, with the bytes hashed so far and the total.
	Progress func(done, total int64)
}

// OpenVerified serves content that exists complete at root, as OpenSeed
// does, after reading and hashing every piece against the manifest,
// several pieces at once. It refuses content that differs in any way with
// an error that wraps ErrMismatch and is a *MismatchError saying how much
// matched; it writes nothing to root, then or ever.
func OpenVerified(ctx context.Context, m *manifest.Manifest, root string, opts VerifyOptions) (*Storage, error) {
	s, err := OpenSeed(m, root)
	if err != nil {
		var se *sizeError
		if errors.As(err, &se) {
			return nil, &MismatchError{Path: se.path, Size: se.size, WantSize: se.want}
		}
		return nil, err
	}
	bad, err := s.hashAll(ctx, opts)
	if err != nil {
		s.Close()
		return nil, err
	}
	if len(bad) > 0 {
		s.Close()
		first := bad[0]
		return nil, &MismatchError{
			Path: root, Matched: len(m.Pieces) - len(bad), Pieces: len(m.Pieces),
			FirstBad: first, FirstBadOffset: int64(first) * m.PieceSize, FirstBadLen: m.PieceLen(first),
		}
	}
	return s, nil
}

// hashAll reads and hashes every piece, opts.Workers at a time, and
// returns the pieces that do not match, in order. A read error, or ctx
// ending, is returned as such.
func (s *Storage) hashAll(ctx context.Context, opts VerifyOptions) ([]int, error) {
	n := len(s.m.Pieces)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	type result struct {
		piece int
		ok    bool
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	results := make(chan result, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, min(s.m.PieceSize, s.lay.total))
			for i := range next {
				b := buf[:s.m.PieceLen(i)]
				err := s.readContent(b, int64(i)*s.m.PieceSize)
				results <- result{i, err == nil && sha256.Sum256(b) == s.m.Pieces[i], err}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var bad []int
	var firstErr error
	var done int64
	for r := range results {
		switch {
		case r.err != nil:
			if firstErr == nil {
				firstErr = r.err
			}
			cancel()
		case !r.ok:
			bad = append(bad, r.piece)
		}
		done += s.m.PieceLen(r.piece)
		if opts.Progress != nil && firstErr == nil {
			opts.Progress(done, s.lay.total)
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	slices.Sort(bad)
	return bad, nil
}
