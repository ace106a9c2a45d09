// Package storage keeps one share's content on disk: it serves a complete
// share that already exists (seeding), and receives a share piece by piece
// into a partial path with a state file that lets a later run resume, then
// moves it into place (fetching).
//
// Content offsets are offsets into the concatenation of the share's regular
// files in manifest order, as package manifest defines them.
package storage

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// Suffixes appended to a fetch's destination to name its partial content and
// its state file while the fetch is in progress.
const (
	PartSuffix  = ".p2pshare-part"
	StateSuffix = ".p2pshare-state"
)

// errClosed is returned by every operation on a closed Storage.
var errClosed = errors.New("storage: use of closed storage")

// Storage holds one share's content on disk. It is safe for concurrent use:
// ReadAt and ReadPiece may run concurrently with WritePiece on other pieces.
//
// Every regular file of the share with content stays open (one *os.File
// each) for the Storage's lifetime. That is simple and fast, and fine for
// shares of up to some ten thousand files (Go raises the soft open-file limit
// to the hard limit at start-up on Unix).
type Storage struct {
	m    *manifest.Manifest
	lay  layout
	id   [sha256.Size]byte // shareIdentity(m), for the state file
	dest string            // final path of a fetch; "" for a seed
	// state is a fetch's state file, open from OpenFetch until Complete
	// or Close, its space reserved (see openState); nil for a seed.
	// stateLinked is set once its folder entry was synced. Both are
	// guarded by syncMu.
	state       *os.File
	stateLinked bool
	// syncMu serialises Sync, Complete and Close, so that two Syncs cannot
	// interleave their fsyncs and state writes.
	syncMu sync.Mutex
	// ioMu is held shared during file I/O and exclusively while the file
	// handles change (Complete, Close). It guards files, path, fetching and
	// closed.
	ioMu     sync.RWMutex
	files    []*os.File // parallel to lay.files
	path     string     // where the content lives now
	fetching bool       // still writing into the partial path
	closed   bool
	// mu guards the have-set and the files written since the last Sync.
	mu    sync.Mutex
	have  []byte // MSB-first bitfield
	count int    // pieces held
	dirty []bool // parallel to files: written since the last Sync
	// stamps, of a seed, are its files as they were when shared (parallel
	// to files); nil for a fetch.
	stamps []stamp
}

// VerifyPiece reports whether data is piece i of m: it has the piece's length
// and its SHA-256 is m.Pieces[i].
func VerifyPiece(m *manifest.Manifest, i int, data []byte) bool {
	if i < 0 || i >= len(m.Pieces) || int64(len(data)) != m.PieceLen(i) {
		return false
	}
	return sha256.Sum256(data) == m.Pieces[i]
}

// Path is where the content currently lives: the seeded root, the partial
// path during a fetch, or the destination once the fetch is complete.
func (s *Storage) Path() string {
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	return s.path
}

// Have reports whether piece i is held; out-of-range pieces are not.
func (s *Storage) Have(i int) bool {
	if i < 0 || i >= len(s.m.Pieces) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.has(i)
}

// has reports whether piece i is held; s.mu must be held.
func (s *Storage) has(i int) bool { return s.have[i/8]&(0x80>>(i%8)) != 0 }

// HaveCount is the number of pieces held.
func (s *Storage) HaveCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Bitfield returns a copy of the have-set, one bit per piece, most
// significant bit first: bit 7 of byte 0 is piece 0. Its length is (n+7)/8
// for n pieces, and padding bits are zero.
func (s *Storage) Bitfield() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.have)
}

// checkPiece returns an error unless i names a piece of the share.
func (s *Storage) checkPiece(i int) error {
	if i < 0 || i >= len(s.m.Pieces) {
		return fmt.Errorf("storage: piece %d out of range [0, %d)", i, len(s.m.Pieces))
	}
	return nil
}

// ReadPiece reads held piece i into buf, reusing buf when its capacity is
// large enough, and returns the piece's bytes. It refuses pieces not held,
// and, for a seed whose file changed on disk since it was shared, a piece
// that no longer matches the manifest (ErrChanged).
func (s *Storage) ReadPiece(i int, buf []byte) ([]byte, error) {
	if err := s.checkPiece(i); err != nil {
		return nil, err
	}
	if !s.Have(i) {
		return nil, fmt.Errorf("storage: piece %d is not held", i)
	}
	n := int(s.m.PieceLen(i))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed {
		return nil, errClosed
	}
	if err := s.readContent(buf, int64(i)*s.m.PieceSize); err != nil {
		return nil, err
	}
	if s.stamps != nil {
		if err := s.checkServed(i, buf); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ReadAt reads len(p) content bytes starting at content offset off, with the
// semantics of io.ReaderAt: a read that reaches the end of the content
// returns io.EOF with the bytes before it. It does not check that the range
// is held; the caller (an in-order reader) ensures that.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("storage: negative read offset %d", off)
	}
	if len(p) == 0 {
		return 0, nil // as os.File does, even beyond the end
	}
	if off >= s.lay.total {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.lay.total-off))
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed {
		return 0, errClosed
	}
	if err := s.readContent(p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readContent fills p from content offset off, which with len(p) must lie
// within the content. s.ioMu must be held.
func (s *Storage) readContent(p []byte, off int64) error {
	return s.lay.each(off, int64(len(p)), func(f int, fileOff int64, lo, hi int) error {
		n, err := s.files[f].ReadAt(p[lo:hi], fileOff)
		if n == hi-lo {
			return nil
		}
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("storage: reading %q at offset %d: %w", s.filePath(f), fileOff, err)
	})
}

// WritePiece writes piece i at its offsets across the share's files and
// marks it held. The caller has already verified data against m.Pieces[i];
// WritePiece checks only its length. Writing a piece already held does
// nothing. It does not fsync: Sync does, before it records the piece in the
// state file.
func (s *Storage) WritePiece(i int, data []byte) error {
	if err := s.checkPiece(i); err != nil {
		return err
	}
	if want := s.m.PieceLen(i); int64(len(data)) != want {
		return fmt.Errorf("storage: piece %d has %d bytes, want %d", i, len(data), want)
	}
	if s.Have(i) {
		return nil
	}
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed {
		return errClosed
	}
	var touched [2]int // usually a piece spans at most a couple of files
	written := touched[:0]
	err := s.lay.each(int64(i)*s.m.PieceSize, int64(len(data)), func(f int, fileOff int64, lo, hi int) error {
		written = append(written, f)
		if _, err := s.files[f].WriteAt(data[lo:hi], fileOff); err != nil {
			return fmt.Errorf("storage: writing piece %d to %q at offset %d: %w", i, s.filePath(f), fileOff, err)
		}
		return nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	// Even a failed write may have changed a file; the next Sync flushes it.
	for _, f := range written {
		s.dirty[f] = true
	}
	if err != nil {
		return err
	}
	if !s.has(i) {
		s.have[i/8] |= 0x80 >> (i % 8)
		s.count++
	}
	return nil
}
