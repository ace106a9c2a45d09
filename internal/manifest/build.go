package manifest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// BuildOptions tunes Build. The zero value is ready to use.
type BuildOptions struct {
	// PieceSize is the piece size to use; 0 means PieceSizeFor(total size).
	PieceSize int64
	// Progress, if not nil, is called from Build's goroutine as hashing
	// advances, about once per MiB (at most once per piece) and once at the
	// end, with the bytes hashed so far and the total.
	Progress func(done, total int64)
}

// progressEvery is how many bytes Build hashes between Progress calls.
const progressEvery = 1 << 20

// Build makes the manifest of the file or folder at path, hashing its content.
//
// A regular file gives a single-file share; a folder gives a folder share
// listing every file (empty ones too) and every folder below it (empty ones
// too, but not the root itself). Symbolic links, devices, sockets and pipes
// inside a folder are refused with ErrUnsupportedFile rather than skipped, so
// a share never silently lacks what the user saw; path itself may be a
// symbolic link, which is followed. The share is named for path's base name.
//
// Content is read once, streaming through a single piece-sized buffer, and
// ctx is checked between pieces. The result is valid and its encoding fits in
// MaxEncodedSize. A file that changes size while Build reads it is an error.
func Build(ctx context.Context, path string, opts BuildOptions) (*Manifest, error) {
	if opts.PieceSize != 0 {
		if err := checkPieceSize(opts.PieceSize); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: resolving %s: %w", quote(path), err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m := &Manifest{Name: filepath.Base(abs)}
	var files []string // the OS path of each entry; "" for folders
	switch {
	case info.Mode().IsRegular():
		m.Entries = []Entry{{Size: info.Size()}}
		files = []string{abs}
	case info.IsDir():
		if m.Entries, files, err = walk(ctx, abs); err != nil {
			return nil, err
		}
	default:
		return nil, errorf(ErrUnsupportedFile, "%s is a %v, not a regular file or folder", quote(abs), info.Mode().Type())
	}
	total := m.TotalSize()
	m.PieceSize = opts.PieceSize
	if m.PieceSize == 0 {
		m.PieceSize = PieceSizeFor(total)
	}
	if err := m.validateShape(); err != nil {
		return nil, err
	}
	n := numPiecesFor(total, m.PieceSize)
	if size := m.encodedLen(int(min(n, MaxEncodedSize))); size > MaxEncodedSize {
		return nil, errorf(ErrTooLarge, "manifest of %s would be %d bytes, over the %d-byte limit", quote(abs), size, MaxEncodedSize)
	}
	h := hasher{
		buf:      make([]byte, min(m.PieceSize, total)),
		pieces:   make([]Hash, 0, n),
		total:    total,
		progress: opts.Progress,
	}
	for i, e := range m.Entries {
		if !e.Dir && e.Size > 0 {
			if err := h.hashFile(ctx, files[i], e.Size); err != nil {
				return nil, err
			}
		}
	}
	if err := h.finish(ctx); err != nil {
		return nil, err
	}
	if len(h.pieces) > 0 {
		m.Pieces = h.pieces // else nil, as Decode leaves it
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: Build made an invalid manifest (a bug): %w", err)
	}
	return m, nil
}

// walk lists every file and folder below root, sorted by slash path.
func walk(ctx context.Context, root string) ([]Entry, []string, error) {
	type found struct {
		entry Entry
		file  string
	}
	var all []found
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		rel = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir():
			all = append(all, found{entry: Entry{Path: rel, Dir: true}})
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("manifest: %w", err)
			}
			all = append(all, found{Entry{Path: rel, Size: info.Size()}, p})
		case t&fs.ModeSymlink != 0:
			return errorf(ErrUnsupportedFile, "%s is a symbolic link; a share holds only regular files and folders", quote(p))
		default:
			return errorf(ErrUnsupportedFile, "%s is a %v; a share holds only regular files and folders", quote(p), t)
		}
		return nil
	})
	if err != nil || len(all) == 0 {
		return nil, nil, err // nil entries for an empty folder, as Decode gives
	}
	sort.Slice(all, func(i, j int) bool { return all[i].entry.Path < all[j].entry.Path })
	entries := make([]Entry, len(all))
	files := make([]string, len(all))
	for i, f := range all {
		entries[i], files[i] = f.entry, f.file
	}
	return entries, files, nil
}

// hasher cuts the concatenation of the files fed to it into pieces and
// hashes each, holding at most one piece in memory.
type hasher struct {
	buf      []byte // one piece; the first fill bytes are pending
	fill     int
	pieces   []Hash
	done     int64 // bytes hashed
	total    int64
	reported int64 // done at the last Progress call
	progress func(done, total int64)
}

// hashFile feeds the size bytes of the file at path to the hasher.
func (h *hasher) hashFile(ctx context.Context, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	} else if info.Size() != size {
		return fmt.Errorf("manifest: %s changed size while building, from %d to %d bytes", quote(path), size, info.Size())
	}
	for left := size; left > 0; {
		n := int(min(left, int64(len(h.buf)-h.fill)))
		if _, err := io.ReadFull(f, h.buf[h.fill:h.fill+n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("manifest: %s shrank below %d bytes while building", quote(path), size)
			}
			return fmt.Errorf("manifest: %w", err)
		}
		h.fill += n
		left -= int64(n)
		if h.fill == len(h.buf) {
			if err := h.flush(ctx); err != nil {
				return err
			}
		}
	}
	var extra [1]byte
	if n, _ := f.Read(extra[:]); n > 0 {
		return fmt.Errorf("manifest: %s grew beyond %d bytes while building", quote(path), size)
	}
	return nil
}

// flush hashes the pending bytes as one piece.
func (h *hasher) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.pieces = append(h.pieces, sha256.Sum256(h.buf[:h.fill]))
	h.done += int64(h.fill)
	h.fill = 0
	if h.progress != nil && h.done-h.reported >= progressEvery && h.done < h.total {
		h.reported = h.done
		h.progress(h.done, h.total)
	}
	return nil
}

// finish hashes the short last piece, if any, and reports completion.
func (h *hasher) finish(ctx context.Context) error {
	if h.fill > 0 {
		if err := h.flush(ctx); err != nil {
			return err
		}
	}
	if h.progress != nil {
		h.progress(h.total, h.total)
	}
	return nil
}
