package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

// SeedOptions tune Seed. The zero value is the usual choice.
type SeedOptions struct {
	// LookupTimeout bounds the search for the share's manifest, as
	// FetchOptions.LookupTimeout does; past it Seed returns ErrNotFound.
	// 0 means until ctx ends.
	LookupTimeout time.Duration
	// Progress, if set, is called as verification proceeds with the bytes
	// hashed so far and the total, from one goroutine at a time.
	Progress func(done, total int64)
}

// Seed serves a copy of the share named by infohash that is already whole
// at path (a file, or a folder for a folder share) — a finished download
// after a restart, say — without downloading it again and without making
// a new share: the infohash stays the one the class knows.
//
// Seed finds the share's manifest as Fetch does, then reads and hashes
// every piece at path against it, on every core at once, so a restarted
// member seeds again after one read of the content. Content that differs
// (a file of another size, or pieces that fail verification) is refused
// with an error that wraps ErrMismatch and says how many pieces matched
// and which was the first that did not; a missing path wraps
// fs.ErrNotExist. Seed never writes to path: a refused copy is left as it
// was, for the caller to move away and Fetch afresh.
//
// Fetch, by contrast, refuses an existing FetchOptions.Out: a download
// never overwrites what is there, and Seed never downloads, so neither can
// lose a user's file. The returned Download is complete (Wait returns nil
// at once); the node seeds the share, regardless of ctx, until
// Download.Close, Stop or Close.
func (s *Swarm) Seed(ctx context.Context, path string, infohash Infohash, opts SeedOptions) (*Download, error) {
	if !infohash.Defined() {
		return nil, errorOf(ErrBadInfohash, nil, "Seed: undefined infohash")
	}
	if _, err := manifest.ParseInfohash(infohash.String()); err != nil {
		return nil, public("Seed", err)
	}
	if path == "" {
		return nil, errors.New("p2pshare: Seed: path is empty")
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if s.session(infohash) != nil {
		return nil, fmt.Errorf("p2pshare: Seed: share %s is already open on this node", infohash)
	}
	lctx, lcancel := ctx, context.CancelFunc(func() {})
	if opts.LookupTimeout > 0 {
		lctx, lcancel = context.WithTimeout(ctx, opts.LookupTimeout)
	}
	m, enc, _, err := s.resolve(lctx, infohash)
	lcancel()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("p2pshare: Seed of %s stopped: %w", infohash, ctx.Err())
		}
		return nil, err
	}
	st, err := storage.OpenVerified(ctx, m, path, storage.VerifyOptions{Progress: opts.Progress})
	if err != nil {
		return nil, public(fmt.Sprintf("Seed of %s", infohash), err)
	}
	se, err := s.start(swarm.Config{Manifest: m, Encoded: enc, Infohash: infohash, Storage: st})
	if err != nil {
		st.Close()
		return nil, err
	}
	d := &Download{s: s, se: se, out: path}
	go d.watch(ctx)
	return d, nil
}
