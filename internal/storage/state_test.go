package storage

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// fuzzID is the share identity FuzzLoadState decodes against; its seed
// corpus was written with it.
var fuzzID = sha256.Sum256([]byte("FuzzLoadState"))

func TestStateRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 100} {
		have := make([]byte, (n+7)/8)
		for i := 0; i < n; i += 3 {
			have[i/8] |= 0x80 >> (i % 8)
		}
		data := encodeState(fuzzID, n, have)
		got, err := decodeState(data, fuzzID, n)
		mustNil(t, err)
		if !bytes.Equal(got, have) {
			t.Errorf("n=%d: decoded %08b, want %08b", n, got, have)
		}
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	good := encodeState(fuzzID, 10, []byte{0xff, 0xc0})
	tests := []struct {
		name string
		data []byte
		n    int
	}{
		{"empty", nil, 10},
		{"truncated", good[:len(good)-1], 10},
		{"trailing byte", append(bytes.Clone(good), 0), 10},
		{"bad magic", append([]byte("P"), good[1:]...), 10},
		{"other share", encodeState(sha256.Sum256([]byte("other")), 10, []byte{0xff, 0xc0}), 10},
		{"other piece count", encodeState(fuzzID, 9, []byte{0xff, 0x80}), 10},
		{"padding bit set", encodeState(fuzzID, 10, []byte{0xff, 0xe0}), 10},
		{"negative count", good, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeState(tt.data, fuzzID, tt.n); !errors.Is(err, errBadState) {
				t.Errorf("decodeState: err %v, want errBadState", err)
			}
		})
	}
}

// FuzzLoadState feeds arbitrary bytes from disk to the state-file decoder.
// It must not panic, must return exactly (n+7)/8 bytes when it accepts, and
// what it accepts must re-encode to the same bytes.
func FuzzLoadState(f *testing.F) {
	f.Add(encodeState(fuzzID, 10, []byte{0xa5, 0x40}), uint16(10))
	f.Add(encodeState(fuzzID, 0, nil), uint16(0))
	f.Add([]byte(stateMagic), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, n uint16) {
		have, err := decodeState(data, fuzzID, int(n))
		if err != nil {
			if !errors.Is(err, errBadState) {
				t.Fatalf("error %v does not wrap errBadState", err)
			}
			return
		}
		if len(have) != (int(n)+7)/8 {
			t.Fatalf("decoded %d bytes for %d pieces", len(have), n)
		}
		if again := encodeState(fuzzID, int(n), have); !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, data)
		}
	})
}
