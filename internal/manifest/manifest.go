// Package manifest describes a share: its name, its files and folders, its piece
// size and the SHA-256 of every piece. It is p2pshare's "torrent file". The
// canonical encoding of a Manifest is what the share's infohash (a CID) names,
// so two nodes that agree on an infohash agree on every byte of the content.
//
// The content of a share is the concatenation of its regular files in manifest
// order (folders contribute no bytes), cut into pieces of PieceSize bytes; the
// last piece may be shorter.
package manifest

import "crypto/sha256"

// Hash is the SHA-256 digest of one piece.
type Hash [sha256.Size]byte

// Entry is one file or folder of a share.
//
// Path is slash-separated and relative to the share's root. A single-file share
// has exactly one entry, a regular file with an empty Path: the file itself,
// named Manifest.Name. In a folder share every Path is non-empty and entries are
// sorted by Path in byte order with no duplicates.
type Entry struct {
	Path string
	Size int64 // bytes; always 0 for a folder
	Dir  bool
}

// Manifest is the metadata of one share. Build makes one from disk; Decode
// parses and validates one received from the network or read from disk.
type Manifest struct {
	Name      string  // the share's name: the file's or the folder's base name
	PieceSize int64   // a power of two in [MinPieceSize, MaxPieceSize]
	Entries   []Entry // see Entry for the rules
	Pieces    []Hash  // one per piece, in content order
}

// Limits on what a manifest may describe. Decode refuses anything beyond them.
const (
	MinPieceSize   = 16 << 10 // 16 KiB
	MaxPieceSize   = 16 << 20 // 16 MiB
	MaxEncodedSize = 8 << 20  // default cap on an encoded manifest
	MaxNameLen     = 255      // bytes in Name and in one path component
	MaxPathLen     = 4096     // bytes in one Path
)

// IsDir reports whether the share is a folder (as opposed to a single file).
func (m *Manifest) IsDir() bool {
	return !(len(m.Entries) == 1 && m.Entries[0].Path == "" && !m.Entries[0].Dir)
}

// TotalSize is the number of content bytes: the sum of all file sizes.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// NumPieces is the number of pieces the content is cut into.
func (m *Manifest) NumPieces() int { return len(m.Pieces) }

// PieceLen is the length in bytes of piece i; only the last piece may be short.
func (m *Manifest) PieceLen(i int) int64 {
	if i < 0 || i >= len(m.Pieces) {
		return 0
	}
	if i == len(m.Pieces)-1 {
		return m.TotalSize() - int64(i)*m.PieceSize
	}
	return m.PieceSize
}

// PieceSizeFor picks a piece size for total content bytes: a power of two
// that cuts the share into at least 64 pieces, down to 16 KiB, and at most
// 2048, from 256 KiB up to MaxPieceSize. A class trades a piece only once it
// is whole, so the pieces of a small share must be small for its members to
// start passing them on at once (a 2 MiB quiz in 256 KiB pieces would be 8
// pieces, each a sixteenth of a second on a 4 MiB/s uplink before anyone
// could forward it); a bounded piece count keeps manifests, bitfields and
// the picker small.
func PieceSizeFor(total int64) int64 {
	size := int64(256 << 10)
	for size > MinPieceSize && (total+size-1)/size < minPieces {
		size /= 2
	}
	for size < MaxPieceSize && (total+size-1)/size > 2048 {
		size *= 2
	}
	return size
}

// minPieces is how many pieces PieceSizeFor cuts a share into at least,
// pieces of MinPieceSize allowing.
const minPieces = 64
