package mailbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/message"
)

// Protocol is the inbox protocol: one request and one response per stream.
// Version 2 signs each parked item, names the owner's certificate, and
// hands an inbox over in pages.
const Protocol = "/p2pshare/inbox/2.0.0"

// Ops a request carries; Authorize says who may ask which.
const (
	OpPut  byte = 1 // park items for Owner (any member; holders replicate with it too)
	OpHave byte = 2 // which of IDs are held for Owner (any member); with no IDs, every ID held (only Owner may ask)
	OpTake byte = 3 // a page of Owner's items, leaving out IDs (those from earlier pages): only Owner may ask
	OpDel  byte = 4 // delete Owner's IDs: only Owner may ask
)

// Limits of the protocol, checked before allocating.
const (
	MaxFrame   = 8 << 20
	maxItems   = MaxPerInbox
	maxPeerLen = 128
	// MaxCert bounds a member certificate carried with a request or item.
	MaxCert = 4 << 10
	maxSig  = 128
	// PageBytes bounds the items of one reply to OpTake and of one OpPut
	// a holder passes an inbox on with: an inbox of MaxPerInbox messages of
	// the largest size is over twice MaxFrame, so it goes in pages, each
	// well within a frame and, over a slow link, within a holder's patience.
	PageBytes = 1 << 20
)

// ErrMalformed is returned for bytes that do not decode.
var ErrMalformed = errors.New("mailbox: malformed")

// Request is what a member asks a holder.
type Request struct {
	Op    byte
	Owner peer.ID
	// OwnerCert (OpPut) is the owner's member certificate, for a holder
	// that has not met the owner: a holder parks messages for members
	// only. Empty if the sender has none to give.
	OwnerCert []byte
	Items     []Item   // OpPut
	IDs       []ItemID // OpHave, OpDel; OpTake: the ones to leave out
}

// Response is a holder's answer: OK or an error text, and the items or IDs
// asked for.
type Response struct {
	OK    bool
	More  bool // OpTake: more items wait beyond this page
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
	b = field16(b, r.OwnerCert)
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
	r.OwnerCert = d.field16(MaxCert)
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

// Response status bytes.
const (
	statusRefused = 0
	statusOK      = 1
	statusMore    = 2 // OK, and more items wait
)

// maxError bounds a response's error text; Encode cuts a longer one.
const maxError = 1024

// Encode encodes r. More counts only with OK.
func (r Response) Encode() []byte {
	b := []byte{statusRefused}
	switch {
	case r.OK && r.More:
		b[0] = statusMore
	case r.OK:
		b[0] = statusOK
	}
	b = field16(b, []byte(cut(r.Error, maxError)))
	b = appendItems(b, r.Items)
	return appendIDs(b, r.IDs)
}

// cut shortens s to at most n bytes, on a character boundary, marking
// the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	n -= len(mark)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + mark
}

// DecodeResponse decodes a response.
func DecodeResponse(b []byte) (Response, error) {
	d := &dec{b: b}
	st := d.u8()
	if d.err == nil && st > statusMore {
		d.err = fmt.Errorf("%w: status %d", ErrMalformed, st)
	}
	r := Response{OK: st != statusRefused, More: st == statusMore, Error: string(d.field16(maxError))}
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
		b = field16(b, it.Cert)
		b = field16(b, it.Sig)
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
		cert := d.field16(MaxCert)
		sig := d.field16(maxSig)
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
		out = append(out, Item{Sealed: sealed, Sender: sender, Expiry: time.Unix(int64(binary.BigEndian.Uint64(exp)), 0), Cert: cert, Sig: sig})
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
