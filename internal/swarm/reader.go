package swarm

import (
	"context"
	"io"
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

// Reader reads the share's content in order, from the first byte of the
// first file to the last of the last, blocking until the next bytes are
// verified. It is not safe for concurrent use.
type Reader struct {
	s   *Session
	ctx context.Context
	off int64
}

// NewReader returns a reader over the session's content; reads give up when
// ctx ends or the session stops.
func (s *Session) NewReader(ctx context.Context) *Reader {
	return &Reader{s: s, ctx: ctx}
}

// Read reads verified content. It returns io.EOF after the last byte, and
// the session's error if it stopped before the bytes arrived.
func (r *Reader) Read(p []byte) (int, error) {
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
