package classview

import (
	"reflect"
	"testing"
)

// FuzzDecodeReport feeds the status report decoder arbitrary bytes: it must
// not panic, and whatever it accepts must encode back to the same bytes
// (the encoding is canonical) and decode to the same report.
func FuzzDecodeReport(f *testing.F) {
	good, err := sampleReport().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReport(b)
		if err != nil {
			return
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("a decoded report does not encode: %v", err)
		}
		if string(enc) != string(b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, enc)
		}
		again, err := DecodeReport(enc)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("decode(encode(r)) = %+v, %v; want %+v", again, err, r)
		}
	})
}
