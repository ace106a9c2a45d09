package coord

import (
	"encoding/binary"
	"fmt"
	"io"
)

// A frame on the group's forwarding protocol: 4 bytes of big-endian
// length, then that many bytes of JSON.
const maxFrame = 64 << 10

func writeFrame(w io.Writer, b []byte) error {
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err := w.Write(buf)
	return err
}

func readFrame(r io.Reader, what string) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("coord: reading a %s: %w", what, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("coord: %s of %d bytes (limit %d): %w", what, n, maxFrame, ErrMalformed)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("coord: reading a %s of %d bytes: %w", what, n, err)
	}
	return b, nil
}
