package mailbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/message"
)

// Protocol is the inbox protocol: one request and one response per stream.
const Protocol = "/p2pshare/inbox/1.0.0"

// Ops a request carries; Authorize says who may ask which.
const (
	OpPut  byte = 1 // park items for Owner (any member; holders replicate with it too)
	OpHave byte = 2 // which of IDs are held for Owner (any member); with no IDs, every ID held (only Owner may ask)
	OpTake byte = 3 // return Owner's items: only Owner may ask
	OpDel  byte = 4 // delete Owner's IDs: only Owner may ask
)

// Limits of the protocol, checked before allocating.
const (
	MaxFrame   = 8 << 20
	maxItems   = MaxPerInbox
	maxPeerLen = 128
)

// ErrMalformed is returned for bytes that do not decode.
var ErrMalformed = errors.New("mailbox: malformed")

// Request is what a member asks a holder.
type Request struct {
	Op    byte
	Owner peer.ID
	Items []Item   // OpPut
	IDs   []ItemID // OpHave, OpDel
}

// Response is a holder's answer: OK or an error text, and the items or IDs
// asked for.
type Response struct {
	OK    bool
	Error string
	Items []Item   // OpTake
	IDs   []ItemID // OpHave
}

// WriteFrame writes b with its length.
func WriteFrame(w io.Writer, b []byte) error {
	if len(b) > MaxFrame {
		return fmt.Errorf("mailbox: frame of %d bytes, limit %d", len(b), MaxFrame)
	}
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(b)))
	if _, err := w.Write(l[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// ReadFrame reads one frame of at most MaxFrame bytes.
func ReadFrame(r io.Reader) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMalformed, n, MaxFrame)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// Encode encodes r.
func (r Request) Encode() []byte {
	b := []byte{r.Op}
	b = field16(b, []byte(r.Owner))
	b = appendItems(b, r.Items)
	return appendIDs(b, r.IDs)
}

// DecodeRequest decodes a request.
func DecodeRequest(b []byte) (Request, error) {
	d := &dec{b: b}
	r := Request{Op: d.u8()}
	if d.err == nil && (r.Op < OpPut || r.Op > OpDel) {
		d.err = fmt.Errorf("%w: op %d", ErrMalformed, r.Op)
	}
	r.Owner = peer.ID(d.field16(maxPeerLen))
	r.Items = d.items()
	r.IDs = d.ids()
	if err := d.finish(); err != nil {
		return Request{}, err
	}
	if _, err := r.Owner.ExtractPublicKey(); err != nil {
		return Request{}, fmt.Errorf("%w: owner is not a peer ID: %v", ErrMalformed, err)
	}
	return r, nil
}

// Encode encodes r.
func (r Response) Encode() []byte {
	b := []byte{0}
	if r.OK {
		b[0] = 1
	}
	b = field16(b, []byte(r.Error))
	b = appendItems(b, r.Items)
	return appendIDs(b, r.IDs)
}

// DecodeResponse decodes a response.
func DecodeResponse(b []byte) (Response, error) {
	d := &dec{b: b}
	ok := d.u8()
	if d.err == nil && ok > 1 {
		d.err = fmt.Errorf("%w: status %d", ErrMalformed, ok)
	}
	r := Response{OK: ok == 1, Error: string(d.field16(1024))}
	r.Items = d.items()
	r.IDs = d.ids()
	if err := d.finish(); err != nil {
		return Response{}, err
	}
	return r, nil
}

func field16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func appendItems(b []byte, items []Item) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(items)))
	for _, it := range items {
		b = field16(b, []byte(it.Sender))
		b = binary.BigEndian.AppendUint64(b, uint64(it.Expiry.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(len(it.Sealed)))
		b = append(b, it.Sealed...)
	}
	return b
}

func appendIDs(b []byte, ids []ItemID) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("%w: truncated at byte %d", ErrMalformed, d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u16() int {
	if v := d.take(2); v != nil {
		return int(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (d *dec) field16(limit int) []byte {
	n := d.u16()
	if d.err == nil && n > limit {
		d.err = fmt.Errorf("%w: field of %d bytes, limit %d", ErrMalformed, n, limit)
	}
	return d.take(n)
}

func (d *dec) items() []Item {
	n := d.u16()
	if d.err == nil && n > maxItems {
		d.err = fmt.Errorf("%w: %d items, limit %d", ErrMalformed, n, maxItems)
	}
	if d.err != nil {
		return nil
	}
	var out []Item
	for range n {
		sender := peer.ID(d.field16(maxPeerLen))
		exp := d.take(8)
		l := d.take(4)
		if d.err != nil {
			return nil
		}
		size := binary.BigEndian.Uint32(l)
		if size > uint32(message.MaxSealed) {
			d.err = fmt.Errorf("%w: message of %d bytes, limit %d", ErrMalformed, size, message.MaxSealed)
			return nil
		}
		sealed := d.take(int(size))
		if d.err != nil {
			return nil
		}
		out = append(out, Item{Sealed: sealed, Sender: sender, Expiry: time.Unix(int64(binary.BigEndian.Uint64(exp)), 0)})
	}
	return out
}

func (d *dec) ids() []ItemID {
	n := d.u16()
	if d.err == nil && n > maxItems {
		d.err = fmt.Errorf("%w: %d IDs, limit %d", ErrMalformed, n, maxItems)
	}
	raw := d.take(16 * n)
	if d.err != nil {
		return nil
	}
	out := make([]ItemID, n)
	for i := range out {
		copy(out[i][:], raw[16*i:])
	}
	return out
}

func (d *dec) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%w: %d bytes left over", ErrMalformed, len(d.b)-d.off)
	}
	return d.err
}
