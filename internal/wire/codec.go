package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Reader decodes messages from a stream. It is not safe for concurrent use.
type Reader struct {
	br     *bufio.Reader
	limits Limits
	hdr    [headerLen]byte
	// Alloc, if set, supplies the buffer for a Piece's data (n bytes, n
	// within the limits), so a receiver can recycle piece buffers instead
	// of making one per piece.
	Alloc func(n int) []byte
}

// NewReader returns a Reader that refuses any message beyond limits.
func NewReader(r io.Reader, limits Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufSize), limits: limits}
}

// readBufSize is a Reader's buffer: room for hundreds of control messages.
// A piece's data, larger, is read past it straight into the piece's
// buffer. A node holds one per link for the link's life, so it is small.
const readBufSize = 4 << 10

// SetLimits changes the limits, e.g. once the share is known after a Hello.
func (r *Reader) SetLimits(l Limits) { r.limits = l }

// Read returns the next message. The message's Data belongs to the caller:
// freshly allocated, or for a Piece from Alloc when it is set. At a clean end of stream it returns io.EOF; a stream
// cut inside a frame gives io.ErrUnexpectedEOF.
func (r *Reader) Read() (Msg, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return Msg{}, err
	}
	n := int64(binary.BigEndian.Uint32(r.hdr[:]))
	if max := int64(r.limits.maxFrame()); n > max {
		return Msg{}, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooLarge, n, max)
	}
	if n < 1 {
		return Msg{}, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	t, err := r.br.ReadByte()
	if err != nil {
		return Msg{}, noEOF(err)
	}
	n--
	m := Msg{Type: Type(t)}
	if hasIndex(m.Type) {
		if n < 4 {
			return Msg{}, fmt.Errorf("%w: %v frame of %d bytes has no index", ErrMalformed, m.Type, n+1)
		}
		var b [4]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return Msg{}, noEOF(err)
		}
		m.Index = binary.BigEndian.Uint32(b[:])
		n -= 4
	}
	// Check the declared payload size against the type's own limit before
	// allocating it.
	if err := checkLen(r.limits, m.Type, int(n)); err != nil {
		return Msg{}, err
	}
	if n > 0 && m.Type == Piece && r.Alloc != nil {
		m.Data = r.Alloc(int(n))[:n]
		if _, err := io.ReadFull(r.br, m.Data); err != nil {
			return Msg{}, noEOF(err)
		}
	} else if n > 0 {
		m.Data = make([]byte, n)
		if _, err := io.ReadFull(r.br, m.Data); err != nil {
			return Msg{}, noEOF(err)
		}
	}
	if err := r.limits.check(m); err != nil {
		return Msg{}, err
	}
	return m, nil
}

// checkLen refuses a payload length that the type cannot have, so no buffer is
// allocated for it.
func checkLen(l Limits, t Type, n int) error {
	var max int
	switch t {
	case Hello:
		max = MaxInfohashLen
	case Bitfield:
		max = l.MaxBitfield
	case Piece:
		max = l.MaxPiece
	case Refuse:
		max = MaxReasonLen
	case Peers:
		max = MaxPeersPayload
	case Have, Request, Cancel, Reject:
		max = 0
	default:
		return fmt.Errorf("%w: %d", ErrUnknownType, uint8(t))
	}
	if n > max {
		return fmt.Errorf("%w: %v payload of %d bytes, limit %d", ErrMessageTooLarge, t, n, max)
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer encodes messages onto a stream through a buffer. It holds the
// buffer only while messages wait in it: Flush hands it back to a pool
// shared by every Writer, so a node with hundreds of quiet links holds a
// few buffers, not one each. It is not safe for concurrent use; call Flush
// to push buffered messages out. After a write to the stream fails, every
// call returns that error.
type Writer struct {
	w   io.Writer
	buf *[]byte // nil while nothing is buffered
	n   int     // bytes buffered in *buf
	err error
}

// writeBufSize is the size of a Writer's buffer: a message up to it leaves
// in one write to the stream with the messages buffered before it. It is
// the body of one full mux frame (yamux's 64 KiB, less its 12-byte
// header), and a larger message goes to the stream in whole multiples of
// it: a piece so leaves as full frames, not each 64 KiB as a frame and a
// 12-byte one after it.
const writeBufSize = 64<<10 - 12

var writeBufs = sync.Pool{New: func() any {
	b := make([]byte, writeBufSize)
	return &b
}}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write buffers one message. It refuses a message that no Reader with the
// same limits would accept.
func (w *Writer) Write(m Msg, limits Limits) error {
	if err := limits.check(m); err != nil {
		return err
	}
	n := 1 + len(m.Data)
	if hasIndex(m.Type) {
		n += 4
	}
	var hdr [headerLen + 1 + 4]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(n))
	hdr[4] = byte(m.Type)
	h := hdr[:5]
	if hasIndex(m.Type) {
		binary.BigEndian.PutUint32(hdr[5:], m.Index)
		h = hdr[:9]
	}
	if err := w.write(h); err != nil {
		return err
	}
	return w.write(m.Data)
}

// write buffers p. What does not fit goes out: the buffer, filled up, then
// as many whole buffers' worth of the rest as there are, straight to the
// stream; what remains is buffered.
func (w *Writer) write(p []byte) error {
	for w.err == nil && len(p) > writeBufSize-w.n {
		if w.n == 0 {
			// Whole buffers' worth straight to the stream; the rest waits
			// for the messages after it.
			k := len(p) - len(p)%writeBufSize
			w.direct(p[:k])
			p = p[k:]
			break
		}
		c := copy((*w.buf)[w.n:], p)
		w.n += c
		p = p[c:]
		w.flush()
	}
	if w.err != nil {
		return w.err
	}
	if len(p) == 0 {
		return nil
	}
	if w.buf == nil {
		w.buf = writeBufs.Get().(*[]byte)
	}
	w.n += copy((*w.buf)[w.n:], p)
	return nil
}

// direct writes p to the stream, unbuffered.
func (w *Writer) direct(p []byte) {
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	w.err = err
}

// flush writes what is buffered and hands the buffer back to the pool.
func (w *Writer) flush() {
	if w.buf == nil {
		return
	}
	if w.n > 0 && w.err == nil {
		w.direct((*w.buf)[:w.n])
	}
	writeBufs.Put(w.buf)
	w.buf, w.n = nil, 0
}

// Flush writes any buffered messages to the stream.
func (w *Writer) Flush() error {
	w.flush()
	return w.err
}

// Buffered is how many bytes wait in the buffer for Flush.
func (w *Writer) Buffered() int { return w.n }
