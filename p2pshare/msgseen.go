package p2pshare

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/p2pshare/p2pshare/internal/message"
)

// seenFile keeps the IDs of the messages a node has delivered and its
// program acknowledged, so a replay is not delivered again, across
// restarts too. It is a sequence of
// fixed-size records: message ID (16 bytes), then until when to remember it
// (Unix seconds, 8 bytes, big-endian).
const seenFile = "messages-seen"

const seenRecord = 16 + 8

// seenMargin is how long past the message lifetime a delivered message's
// ID is remembered: at least twice message.Skew, so that a replay is
// either still among the IDs seen or refused by message.CheckSent.
const seenMargin = 24 * time.Hour

// seenIDs is the set of delivered message IDs, each kept until its expiry.
type seenIDs struct {
	mu   sync.Mutex
	ids  map[message.ID]time.Time
	path string // "" keeps them in memory only
	f    *os.File
}

// openSeen loads the delivered IDs from dir (none if dir is ""), drops the
// ones expired at now and rewrites the file without them.
func openSeen(dir string, now time.Time) (*seenIDs, error) {
	s := &seenIDs{ids: map[message.ID]time.Time{}}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, seenFile)
	b, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("p2pshare: reading %s: %w", s.path, err)
	}
	for id, until := range decodeSeen(b) {
		if now.Before(until) {
			s.ids[id] = until
		}
	}
	// Rewrite without the expired ones: a temporary file, synced, renamed.
	var out []byte
	for id, until := range s.ids {
		out = appendSeen(out, id, until)
	}
	tmp := s.path + ".tmp"
	if err := writeSynced(tmp, out); err != nil {
		return nil, fmt.Errorf("p2pshare: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	s.f = f
	return s, nil
}

// decodeSeen parses a seen file; a later record of an ID overrides an
// earlier one (earlier versions wrote an expired one to forget an ID), and
// a torn last record (a crash mid-write) is ignored.
func decodeSeen(b []byte) map[message.ID]time.Time {
	out := map[message.ID]time.Time{}
	for len(b) >= seenRecord {
		var id message.ID
		copy(id[:], b[:16])
		until := time.Unix(int64(binary.BigEndian.Uint64(b[16:24])), 0)
		out[id] = until
		b = b[seenRecord:]
	}
	return out
}

func appendSeen(b []byte, id message.ID, until time.Time) []byte {
	b = append(b, id[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(until.Unix()))
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// add records id as delivered until the given time, durably before it
// returns, and reports whether it is new.
func (s *seenIDs) add(id message.ID, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false, nil
	}
	if s.f != nil {
		if _, err := s.f.Write(appendSeen(nil, id, until)); err != nil {
			return false, fmt.Errorf("p2pshare: recording a delivered message in %s: %w", s.path, err)
		}
		if err := s.f.Sync(); err != nil {
			return false, fmt.Errorf("p2pshare: recording a delivered message in %s: %w", s.path, err)
		}
	}
	s.ids[id] = until
	return true, nil
}

// has reports whether id is recorded as delivered.
func (s *seenIDs) has(id message.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *seenIDs) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}
