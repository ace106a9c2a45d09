package swarm

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// bufPool recycles piece-sized buffers between reads from disk and writes to
// the stream, so serving a share allocates little.
type bufPool struct {
	size int
	p    sync.Pool
}

func newBufPool(size int) *bufPool {
	b := &bufPool{size: size}
	b.p.New = func() any { s := make([]byte, size); return &s }
	return b
}

// get returns a buffer of the pool's size.
func (b *bufPool) get() []byte { return *b.p.Get().(*[]byte) }

// put recycles a buffer that get returned (any length; its capacity counts).
func (b *bufPool) put(s []byte) {
	if cap(s) < b.size {
		return
	}
	s = s[:b.size]
	b.p.Put(&s)
}

// Reader reads the share's content, from the first byte of the first
// file to the last of the last, blocking until the bytes at its offset are
// verified; Seek moves it anywhere in the content, and the piece it then
// waits on is asked for first. Read, Seek and Close are not safe for
// concurrent use, except that Close may be called while a Read blocks, to
// end it.
type Reader struct {
	s      *Session
	ctx    context.Context
	off    int64
	closed chan struct{}
	once   sync.Once
}

// ErrReaderClosed is returned by a Reader's Read and Seek after its Close.
// It wraps fs.ErrClosed.
var ErrReaderClosed = fmt.Errorf("swarm: reader closed: %w", fs.ErrClosed)

// NewReader returns a reader over the session's content; reads give up when
// ctx ends, the session stops or the reader is closed.
func (s *Session) NewReader(ctx context.Context) *Reader {
	return &Reader{s: s, ctx: ctx, closed: make(chan struct{})}
}

// Close ends the reader: a Read blocked in it returns ErrReaderClosed, as
// every later Read and Seek does. It does not stop the session.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// Seek sets the offset of the next Read, relative to the start of the
// content, the current offset or the end (io.SeekStart, io.SeekCurrent,
// io.SeekEnd), and returns it. An offset past the end is allowed (Read then
// returns io.EOF); a negative one is refused.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	select {
	case <-r.closed:
		return r.off, ErrReaderClosed
	default:
	}
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += r.off
	case io.SeekEnd:
		abs += r.s.m.TotalSize()
	default:
		return r.off, fmt.Errorf("swarm: Seek: whence %d is none of io.SeekStart, io.SeekCurrent, io.SeekEnd", whence)
	}
	if abs < 0 {
		return r.off, fmt.Errorf("swarm: Seek to offset %d, before the start of the content", abs)
	}
	r.off = abs
	return abs, nil
}

// Read reads verified content. It returns io.EOF after the last byte, and
// the session's error if it stopped before the bytes arrived.
func (r *Reader) Read(p []byte) (int, error) {
	select {
	case <-r.closed:
		return 0, ErrReaderClosed
	default:
	}
	s := r.s
	total := s.m.TotalSize()
	if r.off >= total {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	piece := int(r.off / s.m.PieceSize)
	if !s.st.Have(piece) {
		// Ask for what the reader waits on first.
		select {
		case s.events <- event{kind: evUrgent, i: piece}:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-r.closed:
			return 0, ErrReaderClosed
		case <-s.stopped:
		}
	}
	for !s.st.Have(piece) {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if s.st.Have(piece) {
			break
		}
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-r.closed:
			return 0, ErrReaderClosed
		case <-s.stopped:
			if err := s.Err(); err != nil {
				return 0, err
			}
			if !s.st.Have(piece) {
				return 0, io.ErrUnexpectedEOF
			}
		}
	}
	// Read up to the end of the run of held pieces starting here.
	end := r.off + int64(len(p))
	pieceEnd := int64(piece+1) * s.m.PieceSize
	for end > pieceEnd && pieceEnd < total && s.st.Have(int(pieceEnd/s.m.PieceSize)) {
		pieceEnd += s.m.PieceSize
	}
	end = min(end, pieceEnd, total)
	n, err := s.st.ReadAt(p[:end-r.off], r.off)
	r.off += int64(n)
	if err == io.EOF && r.off >= total {
		err = nil
	}
	return n, err
}
