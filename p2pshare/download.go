package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

// File is one regular file of a share, as Download.Files lists it.
type File struct {
	// Path is the file's path inside the share, with slashes: for a
	// folder share relative to the folder (on disk it is under
	// Download.Path), for a single-file share the file's name.
	Path string
	// Size is the file's size in bytes.
	Size int64
	// Offset is where the file begins in the share's content, as Reader
	// reads it: Seek there to read this file alone.
	Offset int64
	// FirstPiece and EndPiece bound the pieces that hold the file's bytes,
	// EndPiece excluded (Download.Have tells which are verified); for an
	// empty file they are equal.
	FirstPiece, EndPiece int
}

// Files lists the share's regular files in content order, the order Reader
// reads them in. An empty folder of the share is not listed.
func (d *Download) Files() []File {
	m := d.se.Manifest()
	var out []File
	var off int64
	for _, e := range m.Entries {
		if e.Dir {
			continue
		}
		f := File{Path: e.Path, Size: e.Size, Offset: off}
		if !m.IsDir() {
			f.Path = m.Name
		}
		f.FirstPiece = int(off / m.PieceSize)
		f.EndPiece = f.FirstPiece
		if e.Size > 0 {
			f.EndPiece = int((off+e.Size-1)/m.PieceSize) + 1
		}
		out = append(out, f)
		off += e.Size
	}
	return out
}

// Have reports whether piece i of the share is held and verified, so that
// Reader returns its bytes without waiting. Pieces are numbered from 0 to
// Progress().TotalPieces-1, in content order; File says which hold each
// file. A piece out of range is not held.
func (d *Download) Have(i int) bool { return d.se.Have(i) }

// ErrReaderClosed is returned by a Reader's Read and Seek after its Close.
// It wraps fs.ErrClosed.
var ErrReaderClosed = swarm.ErrReaderClosed

// Reader reads the share's content: the bytes of its files one after
// another, in the order Files lists them. A Read returns only verified
// bytes: at an offset whose piece is not held yet it blocks until the
// piece arrives and is verified (asking for that piece before others),
// then returns what is held from there on. It gives up with ctx's error
// when ctx ends, with the download's error if the download stops first,
// and with ErrReaderClosed after Close. To read only what is there without
// waiting, check Have first.
//
// Seek moves the reader anywhere in the content (io.SeekEnd counts from
// Size); reading past the end returns io.EOF. Close ends the reader, and a
// Read blocked in it, but not the download. The reader is not safe for
// concurrent use, except that Close may be called while a Read blocks.
// Each call returns a new reader at offset 0.
func (d *Download) Reader(ctx context.Context) io.ReadSeekCloser { return d.se.NewReader(ctx) }

// openFetchStore opens where a fetch keeps the share: memory, for
// opts.InMemory (then mem is the store too), else opts.Out.
func openFetchStore(m *manifest.Manifest, opts FetchOptions) (st swarm.Store, mem *storage.Memory, err error) {
	if !opts.InMemory {
		disk, err := storage.OpenFetch(m, opts.Out)
		if err != nil {
			return nil, nil, public("Fetch", err)
		}
		return disk, nil, nil
	}
	limit := opts.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	mem, err = storage.OpenMemory(m, limit)
	if errors.Is(err, storage.ErrTooLarge) {
		return nil, nil, fmt.Errorf("%w: %q is %d bytes, over FetchOptions.MemoryLimit of %d: fetch it to disk (FetchOptions.Out)", ErrTooLargeForMemory, m.Name, m.TotalSize(), limit)
	}
	if err != nil {
		return nil, nil, public("Fetch", err)
	}
	return mem, mem, nil
}

// Bytes returns the content of a share fetched InMemory, once the download
// is complete (after Wait returns nil): the node's own copy, which it goes
// on seeding from until Close, so it must not be modified. For a fetch to
// disk, or one not complete, it returns an error that says which.
func (d *Download) Bytes() ([]byte, error) {
	if d.mem == nil {
		return nil, fmt.Errorf("p2pshare: Download.Bytes: %s was fetched to disk, at %s (FetchOptions.InMemory keeps a share in memory)", d.se.Infohash(), d.out)
	}
	b, err := d.mem.Bytes()
	if err != nil {
		return nil, fmt.Errorf("p2pshare: Download.Bytes: %s is not complete: %v", d.se.Infohash(), strings.TrimPrefix(err.Error(), "storage: "))
	}
	return b, nil
}
