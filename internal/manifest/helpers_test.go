package manifest

import (
	"encoding/binary"
	"strings"
)

// mk returns a manifest with the given entries and the right number of
// (arbitrary but distinct) piece hashes for their total size.
func mk(name string, pieceSize int64, entries ...Entry) *Manifest {
	m := &Manifest{Name: name, PieceSize: pieceSize, Entries: entries}
	var total int64
	for _, e := range entries {
		total += e.Size
	}
	if pieceSize > 0 && total > 0 {
		m.Pieces = make([]Hash, numPiecesFor(total, pieceSize))
	}
	for i := range m.Pieces {
		m.Pieces[i][0], m.Pieces[i][1] = byte(i), byte(i>>8)
	}
	return m
}

func file(path string, size int64) Entry { return Entry{Path: path, Size: size} }
func dir(path string) Entry              { return Entry{Path: path, Dir: true} }

// cat concatenates byte slices: the test's way to write an encoding by hand.
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// uv is the shortest uvarint of v.
func uv(v uint64) []byte { return binary.AppendUvarint(nil, v) }

// padded is a valid but non-minimal uvarint of v: one byte too long.
func padded(v uint64) []byte {
	b := uv(v)
	b[len(b)-1] |= 0x80
	return append(b, 0x00)
}

// str is a length-prefixed string.
func str(s string) []byte { return append(uv(uint64(len(s))), s...) }

// header is the magic and version 1.
func header() []byte { return []byte(magic + "\x01") }

// hashes is n zeroed piece hashes.
func hashes(n int) []byte { return make([]byte, 32*n) }

// long is a string of n copies of "a".
func long(n int) string { return strings.Repeat("a", n) }
