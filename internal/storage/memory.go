package storage

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// ErrTooLarge is wrapped by OpenMemory's error for a share over its limit.
var ErrTooLarge = errors.New("storage: share too large for memory")

// Memory holds one share's content in memory, for a small share that need
// never touch the disk. It offers what Storage offers a session, and is
// safe for concurrent use in the same way: ReadAt and ReadPiece may run
// concurrently with WritePiece on other pieces. Nothing it holds outlives
// it: it does not resume.
type Memory struct {
	m    *manifest.Manifest
	data []byte // the content, len(data) == m.TotalSize()

	mu      sync.Mutex
	have    []bool
	writing []bool // a WritePiece is copying the piece in
	count   int
	closed  bool
}

// OpenMemory makes an empty in-memory store for m, whose content must be
// at most limit bytes: the whole content is allocated at once.
func OpenMemory(m *manifest.Manifest, limit int64) (*Memory, error) {
	if err := checkManifest(m); err != nil {
		return nil, err
	}
	if size := m.TotalSize(); size > limit {
		return nil, fmt.Errorf("%w: %q is %d bytes, over the limit of %d", ErrTooLarge, m.Name, size, limit)
	}
	return &Memory{m: m, data: make([]byte, m.TotalSize()), have: make([]bool, len(m.Pieces)), writing: make([]bool, len(m.Pieces))}, nil
}

// Have reports whether piece i is held; out-of-range pieces are not.
func (s *Memory) Have(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return i >= 0 && i < len(s.have) && s.have[i]
}

// check returns an error unless the store is open and i names a piece.
func (s *Memory) check(i int) error {
	if i < 0 || i >= len(s.m.Pieces) {
		return fmt.Errorf("storage: piece %d out of range [0, %d)", i, len(s.m.Pieces))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	return nil
}

// ReadPiece returns held piece i, copied into buf when its capacity is
// large enough. It refuses pieces not held.
func (s *Memory) ReadPiece(i int, buf []byte) ([]byte, error) {
	if err := s.check(i); err != nil {
		return nil, err
	}
	if !s.Have(i) {
		return nil, fmt.Errorf("storage: piece %d is not held", i)
	}
	off := int64(i) * s.m.PieceSize
	n := int(s.m.PieceLen(i))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	copy(buf, s.data[off:])
	return buf, nil
}

// ReadAt reads content as Storage.ReadAt does: it does not check that the
// range is held.
func (s *Memory) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("storage: negative read offset %d", off)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return 0, errClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WritePiece stores piece i, which the caller has verified; it checks only
// its length. Writing a piece already held does nothing.
func (s *Memory) WritePiece(i int, data []byte) error {
	if err := s.check(i); err != nil {
		return err
	}
	if want := s.m.PieceLen(i); int64(len(data)) != want {
		return fmt.Errorf("storage: piece %d has %d bytes, want %d", i, len(data), want)
	}
	// The first writer of a piece claims it; readers touch its bytes only
	// once it is marked held, after the copy.
	s.mu.Lock()
	if s.have[i] || s.writing[i] {
		s.mu.Unlock()
		return nil
	}
	s.writing[i] = true
	s.mu.Unlock()
	copy(s.data[int64(i)*s.m.PieceSize:], data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing[i] = false
	s.have[i] = true
	s.count++
	return nil
}

// Bytes returns the content: all of it once every piece is held (the
// store's own bytes, not a copy), or an error that says how much is held.
func (s *Memory) Bytes() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count < len(s.have) {
		return nil, fmt.Errorf("storage: %d of %d pieces held", s.count, len(s.have))
	}
	return s.data, nil
}

// Sync does nothing: memory has nothing to flush.
func (s *Memory) Sync() error { return nil }

// Complete does nothing: the content stays where it is. (Storage's
// Complete moves a finished fetch into place.)
func (s *Memory) Complete() error { return nil }

// Close ends the store: later reads and writes fail. The content stays
// readable through Bytes.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
