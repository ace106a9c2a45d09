package manifest

import (
	"encoding/binary"
	"math"
	"strings"
)

// minEntryLen is the fewest bytes one encoded entry can take: a one-byte path
// length (the single-file form's path is empty), the flags byte and a
// one-byte size. Decode bounds the entry count by it before allocating.
const minEntryLen = 3

// Decode parses the canonical encoding of a manifest and validates it. It
// refuses, before reading further, input longer than maxSize bytes
// (ErrTooLarge; maxSize ≤ 0 means MaxEncodedSize), and then anything that is
// not exactly the canonical encoding of a valid manifest: wrong magic
// (ErrBadMagic), another version (ErrVersion), input that ends early
// (ErrTruncated) or runs on (ErrTrailingBytes), a varint not in shortest form
// (ErrNonCanonical), or a manifest Validate rejects (ErrInvalid). Counts and
// lengths are checked against the bytes remaining before anything is
// allocated from them, so hostile input cannot make Decode allocate more than
// a small multiple of len(b).
func Decode(b []byte, maxSize int) (*Manifest, error) {
	if maxSize <= 0 {
		maxSize = MaxEncodedSize
	}
	if len(b) > maxSize {
		return nil, errorf(ErrTooLarge, "encoding is %d bytes, over the %d-byte cap", len(b), maxSize)
	}
	head := string(b[:min(len(b), len(magic))])
	if head != magic {
		if len(head) < len(magic) && strings.HasPrefix(magic, head) {
			return nil, errorf(ErrTruncated, "input ends after %d bytes, inside the magic", len(b))
		}
		return nil, errorf(ErrBadMagic, "input starts with %q, want %q", head, magic)
	}
	if len(b) == len(magic) {
		return nil, errorf(ErrTruncated, "input ends before the version byte")
	}
	if v := b[len(magic)]; v != version1 {
		return nil, errorf(ErrVersion, "version %d, want %d", v, version1)
	}
	d := decoder{b: b, off: len(magic) + 1}
	m := &Manifest{
		Name:      d.string("name", "name length", MaxNameLen),
		PieceSize: d.int64("piece size"),
	}
	if n := d.count("entry count", minEntryLen); n > 0 {
		m.Entries = make([]Entry, n)
		for i := range m.Entries {
			e := &m.Entries[i]
			e.Path = d.string("entry path", "entry path length", MaxPathLen)
			flags := d.byte("entry flags")
			if d.err == nil && flags&^flagDir != 0 {
				d.err = errorf(ErrInvalid, "entry %d flags 0x%02x set reserved bits", i, flags)
			}
			e.Dir = flags&flagDir != 0
			e.Size = d.int64("entry size")
		}
	}
	if n := d.count("piece count", len(Hash{})); n > 0 {
		m.Pieces = make([]Hash, n)
		for i := range m.Pieces {
			d.off += copy(m.Pieces[i][:], d.b[d.off:])
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if extra := len(b) - d.off; extra > 0 {
		return nil, errorf(ErrTrailingBytes, "%d bytes after the last piece hash", extra)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// decoder reads fields in order. The first error sticks: later reads return
// zero values, so Decode checks d.err once, at the end.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.err = errorf(ErrTruncated, "input ends inside the %s at offset %d", what, d.off)
	case n < 0:
		d.err = errorf(ErrInvalid, "%s at offset %d overflows 64 bits", what, d.off)
	case n > 1 && d.b[d.off+n-1] == 0:
		d.err = errorf(ErrNonCanonical, "%s at offset %d is a %d-byte varint, longer than its shortest form", what, d.off, n)
	default:
		d.off += n
		return v
	}
	return 0
}

func (d *decoder) int64(what string) int64 {
	off := d.off
	v := d.uvarint(what)
	if d.err == nil && v > math.MaxInt64 {
		d.err = errorf(ErrInvalid, "%s %d at offset %d overflows int64", what, v, off)
	}
	return int64(v)
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 1 {
		d.err = errorf(ErrTruncated, "input ends before the %s at offset %d", what, d.off)
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

// string reads a length-prefixed string of at most limit bytes. whatLen
// names the length field (a constant, so the happy path does not allocate).
func (d *decoder) string(what, whatLen string, limit int) string {
	off := d.off
	n := d.uvarint(whatLen)
	switch {
	case d.err != nil:
		return ""
	case n > uint64(limit):
		d.err = errorf(ErrInvalid, "%s at offset %d is %d bytes, over the %d-byte limit", what, off, n, limit)
	case n > uint64(d.remaining()):
		d.err = errorf(ErrTruncated, "%s at offset %d is %d bytes, but only %d remain", what, off, n, d.remaining())
	default:
		s := string(d.b[d.off : d.off+int(n)])
		d.off += int(n)
		return s
	}
	return ""
}

// count reads an element count and refuses it unless the remaining input
// could hold that many elements of at least each bytes, so the caller may
// allocate count elements without trusting the sender.
func (d *decoder) count(what string, each int) int {
	off := d.off
	n := d.uvarint(what)
	if d.err == nil && n > uint64(d.remaining()/each) {
		d.err = errorf(ErrTruncated, "%s %d at offset %d needs at least %d bytes each, but only %d remain",
			what, n, off, each, d.remaining())
		return 0
	}
	return int(n)
}
