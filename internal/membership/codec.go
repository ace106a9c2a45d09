package membership

import (
	"encoding/binary"
	"fmt"
	"io"
)

// frameHeader is the 4-byte big-endian length in front of every message on
// the membership protocols.
const frameHeader = 4

// writeFrame writes body as one length-prefixed frame.
func writeFrame(w io.Writer, body []byte) error {
	b := make([]byte, frameHeader+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[frameHeader:], body)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame of at most max bytes. A larger declared length
// fails with ErrMessageTooLarge before anything is allocated.
func readFrame(r io.Reader, max int, what string) ([]byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("membership: reading %s: %w", what, err)
	}
	n := binary.BigEndian.Uint32(h[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("membership: %s of %d bytes (limit %d): %w", what, n, max, ErrMessageTooLarge)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("membership: reading %s body (%d bytes): %w", what, n, err)
	}
	return b, nil
}

// enc appends big-endian fields.
type enc struct{ b []byte }

func (e *enc) u8(v byte)       { e.b = append(e.b, v) }
func (e *enc) u16(v int)       { e.b = binary.BigEndian.AppendUint16(e.b, uint16(v)) }
func (e *enc) u64(v uint64)    { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) u32(v int)       { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) raw(v []byte)    { e.b = append(e.b, v...) }
func (e *enc) bytes8(v []byte) { e.u8(byte(len(v))); e.raw(v) }
func (e *enc) bytes16(v []byte) {
	e.u16(len(v))
	e.raw(v)
}

// dec reads big-endian fields; the first failure sticks, and names the
// field and offset, so a caller checks err once at the end.
type dec struct {
	what string // the message being decoded, for errors
	b    []byte
	off  int
	err  error
}

func (d *dec) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("membership: %s: truncated at %s (offset %d, need %d bytes, have %d): %w",
			d.what, field, d.off, n, len(d.b)-d.off, ErrMalformed)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) u8(field string) byte {
	if v := d.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u16(field string) int {
	if v := d.take(2, field); v != nil {
		return int(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (d *dec) u64(field string) uint64 {
	if v := d.take(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// bytes8 and bytes16 read a length-prefixed field of at most max bytes.
func (d *dec) bytes8(field string, max int) []byte  { return d.limited(int(d.u8(field)), field, max) }
func (d *dec) bytes16(field string, max int) []byte { return d.limited(d.u16(field), field, max) }

func (d *dec) limited(n int, field string, max int) []byte {
	if d.err == nil && n > max {
		d.err = fmt.Errorf("membership: %s: %s of %d bytes (limit %d): %w", d.what, field, n, max, ErrMessageTooLarge)
	}
	return d.take(n, field)
}

// fail records a semantic error about field unless one is already recorded.
func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("membership: %s: "+format+": %w", append(append([]any{d.what}, args...), ErrMalformed)...)
	}
}

// finish reports the first error, or trailing bytes.
func (d *dec) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("membership: %s: %d trailing bytes: %w", d.what, len(d.b)-d.off, ErrMalformed)
	}
	return d.err
}

func (d *dec) u32(field string) int {
	if v := d.take(4, field); v != nil {
		return int(binary.BigEndian.Uint32(v))
	}
	return 0
}

// bytes32 reads a field with a 4-byte length prefix, of at most max bytes.
func (d *dec) bytes32(field string, max int) []byte { return d.limited(d.u32(field), field, max) }

func (e *enc) bytes32(v []byte) {
	e.u32(len(v))
	e.raw(v)
}
