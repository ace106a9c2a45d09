package manifest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestEncodeGolden pins the version 1 wire format: changing it changes every
// infohash, so it must be a new version, not an edit.
func TestEncodeGolden(t *testing.T) {
	m := mk("s", MinPieceSize, dir("d"), file("d/f", 3))
	got, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "50325053" + "4d414e" + "01" + // magic, version
		"0173" + "808001" + "02" + // name "s", piece size 16384, 2 entries
		"016401" + "00" + // "d", folder, size 0
		"03642f66" + "00" + "03" + // "d/f", file, size 3
		"01" + strings.Repeat("00", 32) // 1 piece
	if hex.EncodeToString(got) != want {
		t.Fatalf("Encode =\n%x\nwant\n%s", got, want)
	}
	if c := InfohashOf(got).String(); !strings.HasPrefix(c, "bafkrei") {
		t.Fatalf("infohash %s is not a base32 CIDv1 raw sha2-256", c)
	}
}

func roundTripManifests() map[string]*Manifest {
	return map[string]*Manifest{
		"single file":        mk("a.txt", MinPieceSize, file("", 100_000)),
		"empty single file":  mk("a.txt", 1<<20, file("", 0)),
		"empty folder share": mk("share", MinPieceSize),
		"nested": mk("s", MaxPieceSize, dir("a"), file("a.txt", 5), dir("a/b"),
			file("a/b/c", MaxPieceSize*3+1), file("a/d", 0), dir("e"), file("日本/é", 200)),
		"large sizes": mk("big", MaxPieceSize, file("x", 1<<40)),
	}
}

func TestRoundTrip(t *testing.T) {
	for name, m := range roundTripManifests() {
		t.Run(name, func(t *testing.T) {
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("Decode(Encode(m)) = %+v, want %+v", got, m)
			}
			again, err := got.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs (err %v)", err)
			}
		})
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	if _, err := mk("a", 3, file("", 1)).Encode(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Encode = %v, want ErrInvalid", err)
	}
	if _, err := mk("", MinPieceSize, file("", 1)).Infohash(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Infohash = %v, want ErrInvalid", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	ps := uv(MinPieceSize)
	one := func(flags byte) []byte { // one entry "f" of size 1, then 1 piece
		return cat(uv(1), str("f"), []byte{flags}, uv(1), uv(1), hashes(1))
	}
	good := cat(header(), str("s"), ps, one(0))
	if _, err := Decode(good, 0); err != nil {
		t.Fatalf("the base case must decode: %v", err)
	}
	tests := []struct {
		name    string
		in      []byte
		maxSize int
		want    error
		detail  string
	}{
		{"over cap", good, len(good) - 1, ErrTooLarge, "over the"},
		{"over default cap", make([]byte, MaxEncodedSize+1), 0, ErrTooLarge, "8388609 bytes"},
		{"empty", nil, 0, ErrTruncated, "inside the magic"},
		{"partial magic", []byte("P2PS"), 0, ErrTruncated, "inside the magic"},
		{"bad magic", cat([]byte("P2PSMAX\x01"), good[8:]), 0, ErrBadMagic, `"P2PSMAX"`},
		{"short garbage", []byte("hi"), 0, ErrBadMagic, `"hi"`},
		{"magic only", []byte(magic), 0, ErrTruncated, "version byte"},
		{"version 0", cat([]byte(magic), []byte{0}, good[8:]), 0, ErrVersion, "version 0, want 1"},
		{"version 2", cat([]byte(magic), []byte{2}, good[8:]), 0, ErrVersion, "version 2, want 1"},
		{"trailing byte", cat(good, []byte{0}), 0, ErrTrailingBytes, "1 bytes after"},
		{"padded name length", cat(header(), padded(1), []byte("s"), ps, one(0)), 0, ErrNonCanonical, "name length"},
		{"padded piece size", cat(header(), str("s"), padded(MinPieceSize), one(0)), 0, ErrNonCanonical, "piece size"},
		{"padded zero", cat(header(), str("s"), ps, uv(1), padded(0), []byte{0}, uv(0), uv(0)), 0, ErrNonCanonical, "entry path length"},
		{"padded entry size", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, padded(1), uv(1), hashes(1)), 0, ErrNonCanonical, "entry size"},
		{"padded piece count", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, uv(1), padded(1), hashes(1)), 0, ErrNonCanonical, "piece count"},
		{"varint overflow", cat(header(), str("s"), bytes.Repeat([]byte{0xff}, 10), []byte{1}), 0, ErrInvalid, "overflows 64 bits"},
		{"piece size over int64", cat(header(), str("s"), uv(math.MaxInt64+1), one(0)), 0, ErrInvalid, "overflows int64"},
		{"entry size over int64", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, uv(math.MaxUint64), uv(0)), 0, ErrInvalid, "overflows int64"},
		{"huge entry count", cat(header(), str("s"), ps, uv(1<<40), one(0)[1:]), 0, ErrTruncated, "entry count 1099511627776"},
		{"huge piece count", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, uv(1), uv(1<<50)), 0, ErrTruncated, "piece count"},
		{"piece count one short of bytes", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, uv(1), uv(2), hashes(1)), 0, ErrTruncated, "piece count 2"},
		{"name over limit", cat(header(), str(long(MaxNameLen+1)), ps, one(0)), 0, ErrInvalid, "over the 255-byte limit"},
		{"name longer than input", cat(header(), uv(200), []byte("s")), 0, ErrTruncated, "only 1 remain"},
		{"path over limit", cat(header(), str("s"), ps, uv(1), str(long(MaxPathLen+1)), []byte{0}, uv(0), uv(0)), 0, ErrInvalid, "over the 4096-byte limit"},
		{"reserved flag bit", cat(header(), str("s"), ps, one(2)), 0, ErrInvalid, "flags 0x02 set reserved bits"},
		{"all flag bits", cat(header(), str("s"), ps, one(0xff)), 0, ErrInvalid, "flags 0xff"},
		{"unsorted entries", cat(header(), str("s"), ps, uv(2), str("b"), []byte{0}, uv(0), str("a"), []byte{0}, uv(0), uv(0)), 0, ErrInvalid, "out of order"},
		{"wrong piece count", cat(header(), str("s"), ps, uv(1), str("f"), []byte{0}, uv(1), uv(0)), 0, ErrInvalid, "want 1"},
		{"bad piece size", cat(header(), str("s"), uv(3), uv(1), str("f"), []byte{0}, uv(0), uv(0)), 0, ErrInvalid, "piece size 3 is not a power of two"},
		{"folder with size", cat(header(), str("s"), ps, uv(1), str("d"), []byte{1}, uv(1), uv(1), hashes(1)), 0, ErrInvalid, "has size 1, want 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.in, tt.maxSize)
			if m != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, %v; want %v", m, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("Decode error %q does not contain %q", err, tt.detail)
			}
		})
	}
}

// TestDecodeTruncations cuts a valid encoding at every length.
func TestDecodeTruncations(t *testing.T) {
	b, err := roundTripManifests()["nested"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := Decode(b[:n], 0); !errors.Is(err, ErrTruncated) {
			t.Fatalf("Decode of the first %d of %d bytes = %v, want ErrTruncated", n, len(b), err)
		}
	}
}

// TestDecodeBoundsAllocation feeds an input whose entry count is as large as
// its length permits and checks Decode allocates a small multiple of it.
func TestDecodeBoundsAllocation(t *testing.T) {
	const n = 300_000
	in := cat(header(), str("s"), uv(MinPieceSize), uv(n), bytes.Repeat([]byte{0, 0, 0}, n))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(in, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("Decode = %v, want ErrTruncated (no piece count)", err)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(16*len(in)); got > limit {
		t.Fatalf("Decode allocated %d bytes for %d bytes of input, want at most %d", got, len(in), limit)
	}
}
