package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sync makes everything written so far durable, in an order that keeps the
// state file honest: it fsyncs every file written since the last Sync, then
// rewrites the state file in the space reserved for it (see writeState) and
// fsyncs it. The state file therefore never lists a piece whose bytes are
// not on disk, and it is written even when the disk is full. Sync does
// nothing for a seed or a completed fetch.
func (s *Storage) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed {
		return errClosed
	}
	return s.syncLocked()
}

// syncLocked does Sync's work; s.syncMu and s.ioMu (either mode) must be held.
func (s *Storage) syncLocked() error {
	if !s.fetching {
		return nil
	}
	have, err := s.syncFilesLocked()
	if err != nil {
		return err
	}
	return s.recordLocked(have)
}

// recordLocked writes have, a state whose pieces' bytes are synced, into the
// state file; the first time it also fsyncs the folder, so that the file
// OpenFetch created is still there after a crash. s.syncMu must be held.
func (s *Storage) recordLocked(have []byte) error {
	if err := writeState(s.state, have); err != nil {
		return err
	}
	if !s.stateLinked {
		if err := syncDir(filepath.Dir(s.dest)); err != nil {
			return err
		}
		s.stateLinked = true
	}
	return nil
}

// closeStateLocked closes the state file, once. s.syncMu must be held.
func (s *Storage) closeStateLocked() error {
	if s.state == nil {
		return nil
	}
	err := s.state.Close()
	s.state = nil
	if err != nil {
		return fmt.Errorf("storage: closing state file: %w", err)
	}
	return nil
}

// syncFilesLocked fsyncs every file written since the last sync and returns
// the state that may then be recorded: the have-set snapshotted together
// with the files written before it, so a piece marked held after this point
// is left to the next Sync. s.syncMu and s.ioMu (either mode) must be held.
func (s *Storage) syncFilesLocked() ([]byte, error) {
	s.mu.Lock()
	have := encodeState(s.id, len(s.m.Pieces), s.have)
	var dirty []int
	for f, d := range s.dirty {
		if d {
			dirty = append(dirty, f)
			s.dirty[f] = false
		}
	}
	s.mu.Unlock()
	for k, f := range dirty {
		if err := s.files[f].Sync(); err != nil {
			s.mu.Lock()
			for _, g := range dirty[k:] {
				s.dirty[g] = true
			}
			s.mu.Unlock()
			return nil, fmt.Errorf("storage: syncing %q: %w", s.filePath(f), err)
		}
	}
	return have, nil
}

// Complete finishes a fetch once every piece is held: it syncs, closes the
// partial files, renames the partial path to the destination, removes the
// state file and reopens the content read-only at the destination so that
// the share can go on being served. It returns an error if pieces are
// missing or the destination has appeared meanwhile. Calling it again, or on
// a seed, does nothing.
//
// If Complete fails after closing the files, the Storage is closed. A failed
// rename leaves the partial path and the synced state file in place, so
// OpenFetch can resume from them. The state file is written only when
// Complete fails: on success it would be removed at once, and two fsyncs
// per member are worth saving when a whole class completes in the same
// second.
func (s *Storage) Complete() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.closed {
		return errClosed
	}
	if !s.fetching {
		return nil
	}
	if have, n := s.HaveCount(), len(s.m.Pieces); have != n {
		return fmt.Errorf("storage: cannot complete %s: %d of %d pieces missing", s.dest, n-have, n)
	}
	have, err := s.syncFilesLocked()
	if err != nil {
		return err
	}
	// keep records the synced state for OpenFetch when completing fails.
	keep := func(err error) error {
		if werr := s.recordLocked(have); werr != nil {
			err = fmt.Errorf("%w (and %w)", err, werr)
		}
		if s.closed {
			_ = s.closeStateLocked()
		}
		return err
	}
	if _, err := os.Lstat(s.dest); err == nil {
		return keep(fmt.Errorf("storage: cannot complete: destination %s already exists", s.dest))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return keep(fmt.Errorf("storage: checking destination: %w", err))
	}
	s.closed = true // until the files are open again
	if err := s.closeFiles(); err != nil {
		return keep(err)
	}
	if err := os.Rename(s.path, s.dest); err != nil {
		return keep(fmt.Errorf("storage: moving content into place: %w", err))
	}
	s.path = s.dest
	if err := syncDir(filepath.Dir(s.dest)); err != nil {
		_ = s.closeStateLocked()
		return err
	}
	if err := s.closeStateLocked(); err != nil {
		return err
	}
	if err := os.Remove(s.dest + StateSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: removing state file: %w", err)
	}
	if err := s.openFiles(s.dest, os.O_RDONLY); err != nil {
		return err
	}
	s.closed, s.fetching = false, false
	return nil
}

// Close syncs a fetch in progress (see Sync) and closes every file. Closing
// again does nothing and returns nil.
func (s *Storage) Close() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.syncLocked()
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	if cerr := s.closeStateLocked(); err == nil {
		err = cerr
	}
	return err
}
