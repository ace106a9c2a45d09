package wire

import (
	"encoding/binary"
	"fmt"
)

// Peers is a message type that tells the receiver about other members
// trading the same share (peer exchange), so a class meshes within a round
// trip of reaching any one member instead of waiting on DHT lookups. Its
// payload is a PeerList.
const Peers Type = 9

// Limits on a PeerList.
const (
	MaxPeerListLen  = 200 // peers in one message
	MaxPeerAddrs    = 8   // addresses per peer
	MaxPeerFieldLen = 256 // bytes of one peer ID or one address
	MaxPeersPayload = 64 << 10
)

// PeerEntry is one peer in a PeerList: its binary peer ID and binary
// multiaddrs.
type PeerEntry struct {
	ID    []byte
	Addrs [][]byte
}

// EncodePeers encodes a PeerList: uvarint count, then per peer the ID and
// its addresses, each uvarint-length-prefixed.
func EncodePeers(list []PeerEntry) ([]byte, error) {
	if len(list) > MaxPeerListLen {
		return nil, fmt.Errorf("%w: %d peers, limit %d", ErrMessageTooLarge, len(list), MaxPeerListLen)
	}
	b := binary.AppendUvarint(nil, uint64(len(list)))
	for _, p := range list {
		if len(p.ID) == 0 || len(p.ID) > MaxPeerFieldLen || len(p.Addrs) > MaxPeerAddrs {
			return nil, fmt.Errorf("%w: peer entry with %d-byte ID and %d addresses", ErrMalformed, len(p.ID), len(p.Addrs))
		}
		b = appendField(b, p.ID)
		b = binary.AppendUvarint(b, uint64(len(p.Addrs)))
		for _, a := range p.Addrs {
			if len(a) == 0 || len(a) > MaxPeerFieldLen {
				return nil, fmt.Errorf("%w: %d-byte address", ErrMalformed, len(a))
			}
			b = appendField(b, a)
		}
	}
	if len(b) > MaxPeersPayload {
		return nil, fmt.Errorf("%w: peer list of %d bytes", ErrMessageTooLarge, len(b))
	}
	return b, nil
}

func appendField(b, f []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(f))), f...)
}

// DecodePeers decodes a PeerList, refusing anything past the limits or any
// byte left over. It allocates only for fields it has already bounds-checked.
func DecodePeers(b []byte) ([]PeerEntry, error) {
	d := peerDecoder{b: b}
	n := d.count(MaxPeerListLen, "peers")
	var out []PeerEntry
	for i := 0; i < n && d.err == nil; i++ {
		e := PeerEntry{ID: d.field()}
		na := d.count(MaxPeerAddrs, "addresses")
		for j := 0; j < na && d.err == nil; j++ {
			e.Addrs = append(e.Addrs, d.field())
		}
		out = append(out, e)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the peer list", ErrMalformed, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

type peerDecoder struct {
	b   []byte
	err error
}

func (d *peerDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = fmt.Errorf("%w: bad varint in peer list", ErrMalformed)
		return 0
	}
	if k != len(binary.AppendUvarint(nil, v)) {
		d.err = fmt.Errorf("%w: varint %x in peer list is not in its shortest form", ErrMalformed, d.b[:k])
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *peerDecoder) count(limit int, what string) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(limit) {
		d.err = fmt.Errorf("%w: %d %s, limit %d", ErrMessageTooLarge, v, what, limit)
		return 0
	}
	return int(v)
}

func (d *peerDecoder) field() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n == 0 || n > MaxPeerFieldLen || n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: peer-list field of %d bytes (%d left)", ErrMalformed, n, len(d.b))
		return nil
	}
	f := d.b[:n:n]
	d.b = d.b[n:]
	return f
}
