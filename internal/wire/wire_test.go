package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
)

var testLimits = Limits{MaxPiece: 1 << 16, MaxBitfield: 16}

func TestRoundTrip(t *testing.T) {
	msgs := []Msg{
		{Type: Hello, Data: []byte("infohash-bytes")},
		{Type: Bitfield, Data: []byte{0xff, 0x80}},
		{Type: Bitfield},
		{Type: Have, Index: 7},
		{Type: Request, Index: 1<<32 - 1},
		{Type: Cancel, Index: 3},
		{Type: Piece, Index: 9, Data: bytes.Repeat([]byte{1, 2, 3}, 1000)},
		{Type: Piece, Index: 10},
		{Type: Reject, Index: 4},
		{Type: Refuse, Data: []byte("unknown share")},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, m := range msgs {
		if err := w.Write(m, testLimits); err != nil {
			t.Fatalf("write %v: %v", m.Type, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, testLimits)
	for _, want := range msgs {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("read %v: %v", want.Type, err)
		}
		if got.Type != want.Type || got.Index != want.Index || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after last message: %v, want io.EOF", err)
	}
}

func frame(t Type, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	b = append(b, byte(t))
	return append(b, payload...)
}

func TestReadRejects(t *testing.T) {
	huge := binary.BigEndian.AppendUint32(nil, 1<<31)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"frame over limit, nothing allocated", append(huge, byte(Piece)), ErrMessageTooLarge},
		{"empty frame", []byte{0, 0, 0, 0}, ErrMalformed},
		{"unknown type", frame(99), ErrUnknownType},
		{"have without index", frame(Have, 1, 2), ErrMalformed},
		{"have with data", frame(Have, 0, 0, 0, 1, 5), ErrMessageTooLarge},
		{"empty hello", frame(Hello), ErrMalformed},
		{"bitfield over share limit", frame(Bitfield, make([]byte, 17)...), ErrMessageTooLarge},
		{"cut inside header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"cut inside payload", frame(Piece, 0, 0, 0, 1, 9)[:8], io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.in), testLimits).Read()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWriteRefusesWhatReaderWouldRefuse(t *testing.T) {
	w := NewWriter(io.Discard)
	bad := []Msg{
		{Type: Piece, Data: make([]byte, testLimits.MaxPiece+1)},
		{Type: Hello},
		{Type: Have, Data: []byte{1}},
		{Type: 0},
	}
	for _, m := range bad {
		if err := w.Write(m, testLimits); err == nil {
			t.Errorf("Write(%v with %d bytes) = nil, want an error", m.Type, len(m.Data))
		}
	}
}

func TestManifestExchange(t *testing.T) {
	var req bytes.Buffer
	if err := WriteManifestRequest(&req, []byte("ih")); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifestRequest(&req)
	if err != nil || string(got) != "ih" {
		t.Fatalf("request: %q, %v", got, err)
	}
	var resp bytes.Buffer
	if err := WriteManifestResponse(&resp, []byte("manifest")); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadManifestResponse(bytes.NewReader(resp.Bytes()), 100); err != nil || string(got) != "manifest" {
		t.Fatalf("response: %q, %v", got, err)
	}
	if _, err := ReadManifestResponse(bytes.NewReader(resp.Bytes()), 3); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("over limit: %v, want ErrMessageTooLarge", err)
	}
	resp.Reset()
	_ = WriteManifestResponse(&resp, nil)
	if _, err := ReadManifestResponse(&resp, 100); !errors.Is(err, ErrUnknownShare) {
		t.Fatalf("refusal: %v, want ErrUnknownShare", err)
	}
}

func TestPeerList(t *testing.T) {
	list := []PeerEntry{{ID: []byte("id1"), Addrs: [][]byte{[]byte("a")}}, {ID: []byte("id2")}}
	b, err := EncodePeers(list)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePeers(b)
	if err != nil || len(got) != 2 || string(got[0].ID) != "id1" || string(got[0].Addrs[0]) != "a" || len(got[1].Addrs) != 0 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	bad := map[string][]byte{
		"too many peers":  {0xc9, 0x01},
		"empty id":        {1, 0, 0},
		"id past the end": {1, 5, 'a'},
		"trailing bytes":  append(b, 0),
		"too many addrs":  {1, 1, 'a', 9},
	}
	for name, in := range bad {
		if _, err := DecodePeers(in); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// writeCounter records the writes a Writer makes; fail, once set, makes
// every write fail.
type writeCounter struct {
	bytes.Buffer
	writes int
	sizes  []int // of each write
	fail   error
}

func (c *writeCounter) Write(p []byte) (int, error) {
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes++
	c.sizes = append(c.sizes, len(p))
	return c.Buffer.Write(p)
}

func TestWriterBuffersAndReleases(t *testing.T) {
	limits := Limits{MaxPiece: 3 * writeBufSize, MaxBitfield: 16}
	small := Msg{Type: Piece, Index: 1, Data: bytes.Repeat([]byte{7}, writeBufSize/4)}
	large := Msg{Type: Piece, Index: 2, Data: bytes.Repeat([]byte{9}, 2*writeBufSize+5)}
	var c writeCounter
	w := NewWriter(&c)
	// Control messages and a piece smaller than the buffer leave in one
	// write, at Flush.
	for _, m := range []Msg{{Type: Have, Index: 3}, {Type: Request, Index: 4}, small} {
		if err := w.Write(m, limits); err != nil {
			t.Fatal(err)
		}
	}
	if c.writes != 0 || w.Buffered() != 5+4+5+4+5+4+len(small.Data) {
		t.Fatalf("before Flush: %d writes, %d bytes buffered", c.writes, w.Buffered())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if c.writes != 1 || w.Buffered() != 0 || w.buf != nil {
		t.Fatalf("after Flush: %d writes, %d bytes buffered, buffer held %v", c.writes, w.Buffered(), w.buf != nil)
	}
	// A piece larger than the buffer: the buffer filled up goes out, then
	// whole buffers' worth of the rest, unbuffered, so that each write is
	// one full mux frame; what remains leaves at Flush.
	if err := w.Write(Msg{Type: Have, Index: 5}, limits); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(large, limits); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Have and the piece's header: 9 bytes each; then 2 buffers and 5 bytes of data.
	if want := []int{writeBufSize, writeBufSize, 9 + 9 + 5}; w.buf != nil || !slices.Equal(c.sizes[1:], want) {
		t.Fatalf("after the large piece: writes of %v bytes, want %v; buffer held %v", c.sizes[1:], want, w.buf != nil)
	}
	r := NewReader(&c.Buffer, limits)
	for _, want := range []Msg{{Type: Have, Index: 3}, {Type: Request, Index: 4}, small, {Type: Have, Index: 5}, large} {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("read %v %d: %v", want.Type, want.Index, err)
		}
		if got.Type != want.Type || got.Index != want.Index || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("got %v %d (%d bytes), want %v %d (%d bytes)", got.Type, got.Index, len(got.Data), want.Type, want.Index, len(want.Data))
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after last message: %v, want io.EOF", err)
	}
}

func TestWriterErrorSticks(t *testing.T) {
	broken := errors.New("stream reset")
	c := writeCounter{fail: broken}
	w := NewWriter(&c)
	if err := w.Write(Msg{Type: Have, Index: 1}, testLimits); err != nil {
		t.Fatalf("buffered write: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, broken) {
		t.Fatalf("Flush: %v, want %v", err, broken)
	}
	c.fail = nil
	if err := w.Write(Msg{Type: Have, Index: 2}, testLimits); !errors.Is(err, broken) {
		t.Fatalf("Write after a failed Flush: %v, want %v", err, broken)
	}
	if err := w.Flush(); !errors.Is(err, broken) || c.writes != 0 {
		t.Fatalf("Flush after a failed Flush: %v with %d writes, want %v and none", err, c.writes, broken)
	}
	if w.buf != nil {
		t.Fatal("a failed Writer holds a buffer")
	}
}
