package swarm

import (
	"bytes"
	"testing"
)

func TestBitfield(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		n    int
		ok   bool
	}{
		{"exact", []byte{0xa0}, 3, true},
		{"full bytes", []byte{0xff, 0xff}, 16, true},
		{"zero pieces", nil, 0, true},
		{"too short", []byte{0xff}, 9, false},
		{"too long", []byte{0xff, 0}, 8, false},
		{"bit past the end", []byte{0x10}, 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			have, err := decodeBitfield(tc.in, tc.n)
			if (err == nil) != tc.ok {
				t.Fatalf("decodeBitfield: %v, want ok=%v", err, tc.ok)
			}
			if err == nil && !bytes.Equal(encodeBitfield(have), tc.in) && len(tc.in) > 0 {
				t.Fatalf("round trip: %x, want %x", encodeBitfield(have), tc.in)
			}
		})
	}
}

// FuzzDecodeBitfield: a peer's bitfield never panics the decoder, and what
// it accepts encodes back to the same bytes.
func FuzzDecodeBitfield(f *testing.F) {
	f.Add([]byte{0xff, 0x80}, uint16(9))
	f.Add([]byte{0x01}, uint16(8))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, n uint16) {
		have, err := decodeBitfield(in, int(n))
		if err != nil {
			return
		}
		if len(have) != int(n) || !bytes.Equal(encodeBitfield(have), in) {
			t.Fatalf("accepted %x for %d pieces but re-encodes to %x", in, n, encodeBitfield(have))
		}
	})
}
