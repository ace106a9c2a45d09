package manifest

import "encoding/binary"

// The canonical encoding, version 1, is:
//
//	magic      "P2PSMAN" (7 bytes)
//	version    1 (1 byte)
//	name       uvarint length, then bytes
//	piece size uvarint
//	entries    uvarint count, then per entry:
//	             path  uvarint length, then bytes
//	             flags 1 byte: bit 0 = folder, other bits 0
//	             size  uvarint
//	pieces     uvarint count, then count × 32 bytes of SHA-256
//
// Every varint is in its shortest form and nothing follows the last hash, so
// each valid manifest has exactly one encoding and therefore one infohash.
const (
	magic         = "P2PSMAN"
	version1      = 1
	flagDir  byte = 1 << 0
)

// Encode returns the canonical encoding of m, the bytes its infohash names.
// It validates m first and returns Validate's error if m is invalid.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, m.encodedLen(len(m.Pieces)))
	b = append(b, magic...)
	b = append(b, version1)
	b = appendString(b, m.Name)
	b = binary.AppendUvarint(b, uint64(m.PieceSize))
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = appendString(b, e.Path)
		var flags byte
		if e.Dir {
			flags |= flagDir
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(e.Size))
	}
	b = binary.AppendUvarint(b, uint64(len(m.Pieces)))
	for i := range m.Pieces {
		b = append(b, m.Pieces[i][:]...)
	}
	return b, nil
}

// encodedLen is the exact length of m's encoding were it to have pieces
// piece hashes, so Encode allocates once and Build can check the limit before
// hashing.
func (m *Manifest) encodedLen(pieces int) int {
	n := len(magic) + 1 + stringLen(m.Name) + uvarintLen(uint64(m.PieceSize))
	n += uvarintLen(uint64(len(m.Entries)))
	for _, e := range m.Entries {
		n += stringLen(e.Path) + 1 + uvarintLen(uint64(e.Size))
	}
	return n + uvarintLen(uint64(pieces)) + pieces*len(Hash{})
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func stringLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
