package manifest

import (
	"bytes"
	"testing"
)

// FuzzDecode: Decode must never panic, and whatever it accepts must be the
// canonical encoding, reproduced byte for byte by Encode. Seeds live in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, m := range roundTripManifests() {
		if b, err := m.Encode(); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Decode(in, 1<<20)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned a manifest and error %v", err)
			}
			return
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("Decode accepted what Encode refuses: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Encode(Decode(in)) differs from in:\n%x\n%x", out, in)
		}
		l := m.Layout()
		var sum int64
		for i := range m.NumPieces() {
			for _, s := range l.Spans(i) {
				sum += s.Len
			}
		}
		if sum != m.TotalSize() {
			t.Fatalf("spans cover %d bytes, want %d", sum, m.TotalSize())
		}
	})
}

// FuzzParseInfohash: ParseInfohash must never panic, and what it accepts
// must be an infohash that survives a trip through its string form.
func FuzzParseInfohash(f *testing.F) {
	f.Add(InfohashOf([]byte("seed")).String())
	f.Add("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseInfohash(s)
		if err != nil {
			return
		}
		if c.Version() != 1 || infohashProblem(c) != "" {
			t.Fatalf("ParseInfohash(%q) accepted %s", s, c)
		}
		back, err := ParseInfohash(c.String())
		if err != nil || !back.Equals(c) {
			t.Fatalf("ParseInfohash(%q) = %s, %v; want %s", c.String(), back, err, c)
		}
	})
}
