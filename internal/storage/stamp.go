package storage

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrChanged: a seeded file changed on disk after it was shared, so its
// content no longer matches the manifest. The share must stop rather than
// serve pieces every member would reject (and ban the seeder for).
var ErrChanged = errors.New("storage: a shared file changed on disk")

// stamp is what a seeded file looked like when it was opened: its size,
// modification time and, where the system keeps one, its status change
// time, which even a write that restores the modification time moves.
type stamp struct {
	size        int64
	mod, change time.Time
}

func stampOf(fi os.FileInfo) stamp {
	return stamp{size: fi.Size(), mod: fi.ModTime(), change: changeTime(fi)}
}

// stampFiles records the stamp of every open file; a seed calls it once
// its files are open.
func (s *Storage) stampFiles() error {
	s.stamps = make([]stamp, len(s.files))
	for i, f := range s.files {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		s.stamps[i] = stampOf(fi)
	}
	return nil
}

// checkServed checks piece i of a seed, read into data, before it is
// served: if a file the piece lies in changed since it was shared (by its
// stamp, taken after the read, so a write before or during the read shows),
// the piece is served only if it still hashes to the manifest's hash; a
// file whose size changed, or a piece that no longer matches, is
// ErrChanged. s.ioMu must be held.
func (s *Storage) checkServed(i int, data []byte) error {
	changed := -1
	err := s.lay.each(int64(i)*s.m.PieceSize, int64(len(data)), func(f int, _ int64, _, _ int) error {
		fi, err := s.files[f].Stat()
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		now := stampOf(fi)
		if now == s.stamps[f] {
			return nil
		}
		if now.size != s.stamps[f].size {
			return fmt.Errorf("%w: %s has %d bytes, %d when it was shared; stopped serving it: share it again",
				ErrChanged, s.filePath(f), now.size, s.stamps[f].size)
		}
		changed = f
		return nil
	})
	if err != nil || changed < 0 {
		return err
	}
	if sha256.Sum256(data) != s.m.Pieces[i] {
		return fmt.Errorf("%w: %s was modified at %s, after it was shared, and piece %d no longer matches; stopped serving it: share it again",
			ErrChanged, s.filePath(changed), s.stamps[changed].mod.Format(time.RFC3339), i)
	}
	return nil
}
