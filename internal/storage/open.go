package storage

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/p2pshare/p2pshare/internal/manifest"
)

// checkManifest refuses a manifest that storage cannot lay out safely: a bad
// piece size or entry size, a piece count that does not match the content,
// or an entry path that is not clean and local. The manifest decoder refuses
// all of these already; storage checks again because a path that escapes the
// root would let a share write anywhere on disk.
func checkManifest(m *manifest.Manifest) error {
	if m.PieceSize <= 0 {
		return fmt.Errorf("storage: piece size %d is not positive", m.PieceSize)
	}
	var total int64
	for _, e := range m.Entries {
		if e.Size < 0 || (e.Dir && e.Size != 0) {
			return fmt.Errorf("storage: entry %q has invalid size %d", e.Path, e.Size)
		}
		if total += e.Size; total < 0 {
			return fmt.Errorf("storage: total size overflows at entry %q", e.Path)
		}
	}
	if want := (total + m.PieceSize - 1) / m.PieceSize; int64(len(m.Pieces)) != want {
		return fmt.Errorf("storage: manifest has %d pieces, want %d for %d bytes in pieces of %d",
			len(m.Pieces), want, total, m.PieceSize)
	}
	if !m.IsDir() {
		return nil
	}
	for _, e := range m.Entries {
		if path.Clean(e.Path) != e.Path || !filepath.IsLocal(filepath.FromSlash(e.Path)) || e.Path == "." {
			return fmt.Errorf("storage: entry path %q is not a clean local relative path", e.Path)
		}
	}
	return nil
}

// entryPath is where entry e of m lives under root: root itself for a
// single-file share, else root joined with the entry's local path.
func entryPath(m *manifest.Manifest, root string, e manifest.Entry) string {
	if !m.IsDir() {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(e.Path))
}

// newStorage makes a Storage for m with nothing held and no files open.
func newStorage(m *manifest.Manifest, path string) *Storage {
	s := &Storage{m: m, lay: newLayout(m), id: shareIdentity(m), path: path}
	s.have = make([]byte, (len(m.Pieces)+7)/8)
	s.files = make([]*os.File, len(s.lay.files))
	s.dirty = make([]bool, len(s.lay.files))
	return s
}

// closeFiles closes every open file handle and returns the first error.
func (s *Storage) closeFiles() error {
	var first error
	for i, f := range s.files {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("storage: closing %q: %w", s.filePath(i), err)
		}
		s.files[i] = nil
	}
	return first
}

// OpenSeed serves content that already exists complete at root: the file
// itself for a single-file share, the folder for a folder share. It checks
// that every entry exists with the kind and size the manifest says, and opens
// the files read-only. All pieces are held; their hashes are not re-checked
// unless a file changes on disk after it was shared (ReadPiece).
func OpenSeed(m *manifest.Manifest, root string) (*Storage, error) {
	if err := checkManifest(m); err != nil {
		return nil, err
	}
	s := newStorage(m, root)
	if err := s.checkTree(root); err != nil {
		return nil, err
	}
	if err := s.openFiles(root, os.O_RDONLY); err != nil {
		return nil, err
	}
	if err := s.stampFiles(); err != nil {
		s.closeFiles()
		return nil, err
	}
	for i := range m.Pieces {
		s.have[i/8] |= 0x80 >> (i % 8)
	}
	s.count = len(m.Pieces)
	return s, nil
}

// checkTree checks that every entry of the share exists under root with the
// right kind and, for files, the right size.
func (s *Storage) checkTree(root string) error {
	if s.m.IsDir() {
		if fi, err := os.Stat(root); err != nil {
			return fmt.Errorf("storage: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("storage: share root %s is not a folder", root)
		}
	}
	for _, e := range s.m.Entries {
		p := entryPath(s.m, root, e)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			return fmt.Errorf("storage: %w", err)
		case e.Dir && !fi.IsDir():
			return fmt.Errorf("storage: %s is not a folder", p)
		case !e.Dir && !fi.Mode().IsRegular():
			return fmt.Errorf("storage: %s is not a regular file", p)
		case !e.Dir && fi.Size() != e.Size:
			return &sizeError{path: p, size: fi.Size(), want: e.Size}
		}
	}
	return nil
}

// sizeError is checkTree's error for a file whose size is not the
// manifest's.
type sizeError struct {
	path       string
	size, want int64
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("storage: %s has %d bytes, manifest says %d", e.path, e.size, e.want)
}

// openFiles opens every file that holds content under root with flag.
func (s *Storage) openFiles(root string, flag int) error {
	for i, lf := range s.lay.files {
		f, err := os.OpenFile(entryPath(s.m, root, s.m.Entries[lf.entry]), flag, 0)
		if err != nil {
			s.closeFiles()
			return fmt.Errorf("storage: %w", err)
		}
		s.files[i] = f
	}
	return nil
}

// OpenFetch prepares to receive the share's content, which ends up at dest
// when Complete is called. It refuses if dest exists. Content is written to
// the partial path dest+PartSuffix: one file, or a folder tree with every
// folder created and every file pre-sized. The state file dest+StateSuffix
// records the pieces written and synced; its space is reserved now, so that
// the record holds when the fetch fills the disk.
//
// If a partial path and state file exist from an earlier run, OpenFetch
// resumes: it re-reads and re-hashes every piece the state file lists and
// holds only those that match. A state file that is unreadable, corrupt or
// written for another share is ignored, and the fetch starts with nothing.
// Files left in a partial folder by another share are not removed.
func OpenFetch(m *manifest.Manifest, dest string) (*Storage, error) {
	if err := checkManifest(m); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dest); err == nil {
		return nil, fmt.Errorf("storage: destination %s already exists", dest)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("storage: checking destination: %w", err)
	}
	part := dest + PartSuffix
	s := newStorage(m, part)
	s.dest, s.fetching = dest, true
	if err := s.createTree(part); err != nil {
		return nil, err
	}
	if err := s.openFiles(part, os.O_RDWR); err != nil {
		return nil, err
	}
	if claimed, err := loadState(dest+StateSuffix, s.id, len(m.Pieces)); err == nil {
		s.verifyClaimed(claimed)
	}
	st, err := openState(dest+StateSuffix, encodeState(s.id, len(m.Pieces), s.have))
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	s.state = st
	return s, nil
}

// createTree creates the partial path: every folder (0755) and every file
// (0644), each file truncated to its size and its blocks reserved where
// the file system can (preallocate). Existing files are kept, so a
// resume keeps what an earlier run wrote; a symbolic link or other
// non-regular file where a file belongs is refused.
func (s *Storage) createTree(part string) error {
	if s.m.IsDir() {
		if err := os.MkdirAll(part, 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	for _, e := range s.m.Entries {
		p := entryPath(s.m, part, e)
		if e.Dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("storage: %w", err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("storage: partial file %s exists and is not a regular file", p)
		}
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		err = f.Truncate(e.Size)
		if err == nil {
			preallocate(f, e.Size)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("storage: sizing %s to %d bytes: %w", p, e.Size, err)
		}
	}
	return nil
}

// verifyClaimed holds each piece the bitfield claimed lists whose bytes on
// disk hash to the manifest's hash. It runs before s is shared, so it takes
// no locks.
func (s *Storage) verifyClaimed(claimed []byte) {
	buf := make([]byte, 0, min(s.m.PieceSize, s.lay.total))
	for i := range s.m.Pieces {
		if claimed[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		buf = buf[:s.m.PieceLen(i)]
		if s.readContent(buf, int64(i)*s.m.PieceSize) != nil {
			continue
		}
		if sha256.Sum256(buf) == s.m.Pieces[i] {
			s.have[i/8] |= 0x80 >> (i % 8)
			s.count++
		}
	}
}

// filePath is where layout file f lives now, for error messages: the
// manifest's entry path is empty for a single-file share, and relative
// otherwise. s.ioMu must be held, or s not yet shared.
func (s *Storage) filePath(f int) string {
	return entryPath(s.m, s.path, s.m.Entries[s.lay.files[f].entry])
}
