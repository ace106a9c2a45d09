package wire

import (
	"bytes"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the decoder: it must never panic, never
// accept a message beyond the limits, and whatever it accepts must encode back
// to the bytes it came from.
func FuzzRead(f *testing.F) {
	f.Add(frame(Hello, []byte("bafkrei")...))
	f.Add(frame(Bitfield, 0xf0))
	f.Add(frame(Request, 0, 0, 0, 5))
	f.Add(frame(Piece, 0, 0, 0, 1, 1, 2, 3))
	f.Add(frame(Refuse, []byte("no")...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 6})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), testLimits)
		var out bytes.Buffer
		w := NewWriter(&out)
		consumed := 0
		for {
			m, err := r.Read()
			if err != nil {
				break
			}
			if len(m.Data) > testLimits.maxFrame() {
				t.Fatalf("accepted %d data bytes", len(m.Data))
			}
			if err := w.Write(m, testLimits); err != nil {
				t.Fatalf("re-encoding accepted %v: %v", m.Type, err)
			}
			_ = w.Flush()
			consumed = out.Len()
		}
		if !bytes.Equal(out.Bytes(), in[:consumed]) {
			t.Fatalf("re-encoded bytes differ from input")
		}
	})
}

// FuzzManifestResponse: the manifest-protocol decoders never panic and never
// return more than their limit.
func FuzzManifestResponse(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'})
	f.Add([]byte{1})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		if b, err := ReadManifestResponse(bytes.NewReader(in), 64); err == nil && len(b) > 64 {
			t.Fatalf("returned %d bytes over a limit of 64", len(b))
		}
		if b, err := ReadManifestRequest(bytes.NewReader(in)); err == nil && len(b) > MaxInfohashLen {
			t.Fatalf("returned a %d-byte infohash", len(b))
		}
	})
}

// FuzzDecodePeers: a peer list from the network never panics the decoder,
// stays within its limits, and re-encodes to the same bytes.
func FuzzDecodePeers(f *testing.F) {
	good, _ := EncodePeers([]PeerEntry{{ID: []byte("peer-a"), Addrs: [][]byte{[]byte("addr1"), []byte("addr2")}}, {ID: []byte("b")}})
	f.Add(good)
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		list, err := DecodePeers(in)
		if err != nil {
			return
		}
		if len(list) > MaxPeerListLen {
			t.Fatalf("accepted %d peers", len(list))
		}
		again, err := EncodePeers(list)
		if err != nil || !bytes.Equal(again, in) {
			t.Fatalf("accepted list re-encodes to %x (%v), input %x", again, err, in)
		}
	})
}
