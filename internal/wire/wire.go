// Package wire is the codec of p2pshare's piece-exchange protocol: the messages
// two members send each other over one libp2p stream while trading the pieces
// of one share. It only encodes and decodes; the swarm package decides what to
// send.
//
// Every message is a frame: a 4-byte big-endian length n, then n bytes holding a
// 1-byte type and the type's payload. A frame longer than the reader's limit is
// refused before anything is allocated for it.
package wire

import (
	"errors"
	"fmt"
)

// Protocol is the libp2p protocol ID of piece exchange. The version changes
// whenever the frame format or a message's meaning does.
const Protocol = "/p2pshare/pieces/1.0.0"

// Type says what a message is.
type Type uint8

// The message types. Their numbers are part of the protocol.
const (
	// Hello opens a stream: Data is the binary infohash (CID) of the share the
	// sender wants to trade. The receiver answers with the same Hello to accept,
	// or Refuse.
	Hello Type = 1
	// Bitfield lists every piece the sender holds, bit 7 of byte 0 first. Sent
	// once, right after the Hellos.
	Bitfield Type = 2
	// Have says the sender now holds piece Index.
	Have Type = 3
	// Request asks for the whole of piece Index.
	Request Type = 4
	// Cancel withdraws a Request for piece Index.
	Cancel Type = 5
	// Piece carries the data of piece Index, answering a Request.
	Piece Type = 6
	// Reject says a Request for piece Index will not be served.
	Reject Type = 7
	// Refuse ends the stream; Data is a short human-readable reason.
	Refuse Type = 8
)

// String names the message type, for errors and logs.
func (t Type) String() string {
	switch t {
	case Hello:
		return "hello"
	case Bitfield:
		return "bitfield"
	case Have:
		return "have"
	case Request:
		return "request"
	case Cancel:
		return "cancel"
	case Piece:
		return "piece"
	case Reject:
		return "reject"
	case Refuse:
		return "refuse"
	case Peers:
		return "peers"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Limits on payloads that do not depend on the share.
const (
	MaxInfohashLen = 128
	MaxReasonLen   = 256
	headerLen      = 4
)

// Errors a Reader returns for a stream that breaks the protocol. Each is
// wrapped with the detail that names the offending value.
var (
	ErrMessageTooLarge = errors.New("wire: message too large")
	ErrMalformed       = errors.New("wire: malformed message")
	ErrUnknownType     = errors.New("wire: unknown message type")
)

// Msg is one decoded message. Which fields mean something depends on Type:
// Index for Have, Request, Cancel, Piece and Reject; Data for Hello
// (infohash), Bitfield (bits), Piece (piece data) and Refuse (reason).
type Msg struct {
	Type  Type
	Index uint32
	Data  []byte
}

// Limits bounds what a Reader accepts on one stream. They come from the share:
// MaxPiece is its piece size, MaxBitfield the byte length of its bitfield.
type Limits struct {
	MaxPiece    int
	MaxBitfield int
}

// maxFrame is the longest frame (type byte + payload) the limits allow.
func (l Limits) maxFrame() int {
	n := 1 + MaxInfohashLen
	if b := 1 + l.MaxBitfield; b > n {
		n = b
	}
	if p := 1 + 4 + l.MaxPiece; p > n {
		n = p
	}
	if r := 1 + MaxReasonLen; r > n {
		n = r
	}
	if p := 1 + MaxPeersPayload; p > n {
		n = p
	}
	return n
}

// check validates a message's fields against the limits and its type.
func (l Limits) check(m Msg) error {
	switch m.Type {
	case Hello:
		if len(m.Data) == 0 || len(m.Data) > MaxInfohashLen {
			return fmt.Errorf("%w: hello infohash of %d bytes (want 1..%d)", ErrMalformed, len(m.Data), MaxInfohashLen)
		}
	case Bitfield:
		if len(m.Data) > l.MaxBitfield {
			return fmt.Errorf("%w: bitfield of %d bytes, limit %d", ErrMessageTooLarge, len(m.Data), l.MaxBitfield)
		}
	case Have, Request, Cancel, Reject:
		if len(m.Data) != 0 {
			return fmt.Errorf("%w: %v carries %d data bytes", ErrMalformed, m.Type, len(m.Data))
		}
	case Piece:
		if len(m.Data) > l.MaxPiece {
			return fmt.Errorf("%w: piece %d of %d bytes, limit %d", ErrMessageTooLarge, m.Index, len(m.Data), l.MaxPiece)
		}
	case Refuse:
		if len(m.Data) > MaxReasonLen {
			return fmt.Errorf("%w: refusal reason of %d bytes, limit %d", ErrMessageTooLarge, len(m.Data), MaxReasonLen)
		}
	case Peers:
		if len(m.Data) > MaxPeersPayload {
			return fmt.Errorf("%w: peer list of %d bytes, limit %d", ErrMessageTooLarge, len(m.Data), MaxPeersPayload)
		}
	default:
		return fmt.Errorf("%w: %d", ErrUnknownType, uint8(m.Type))
	}
	return nil
}

// hasIndex reports whether a message of type t carries an Index.
func hasIndex(t Type) bool {
	switch t {
	case Have, Request, Cancel, Piece, Reject:
		return true
	}
	return false
}
