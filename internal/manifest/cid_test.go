package manifest

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"github.com/multiformats/go-multihash"
)

func TestInfohash(t *testing.T) {
	m := mk("a.txt", MinPieceSize, file("", 5))
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Infohash()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: multihash.SHA2_256, MhLength: -1}.Sum(b)
	if !c.Equals(want) || !c.Equals(InfohashOf(b)) {
		t.Fatalf("Infohash = %s, want %s", c, want)
	}
	if dm, _ := multihash.Decode(c.Hash()); string(dm.Digest) != string(sum[:]) {
		t.Fatalf("digest %x, want %x", dm.Digest, sum)
	}
	if err := VerifyInfohash(c, b); err != nil {
		t.Fatalf("VerifyInfohash: %v", err)
	}
	b[len(b)-1] ^= 1
	if err := VerifyInfohash(c, b); !errors.Is(err, ErrInfohashMismatch) {
		t.Fatalf("VerifyInfohash of altered bytes = %v, want ErrInfohashMismatch", err)
	}
}

func TestParseInfohash(t *testing.T) {
	data := []byte("manifest bytes")
	good := InfohashOf(data)
	sha := func(n int) multihash.Multihash {
		sum := sha256.Sum256(data)
		mh, _ := multihash.Encode(sum[:n], multihash.SHA2_256)
		return mh
	}
	sha1, _ := multihash.Sum(data, multihash.SHA1, -1)
	base58 := good.Encode(multibase.MustNewEncoder(multibase.Base58BTC))
	tests := []struct {
		name string
		in   string
		want string // "" for success, else a substring of the error
	}{
		{"base32", good.String(), ""},
		{"base58btc", base58, ""},
		{"empty", "", "is empty"},
		{"garbage", "not a cid", "does not parse as a CID"},
		{"one character", "b", "does not parse"},
		{"long garbage", strings.Repeat("x", 5000), "5000 characters is too long"},
		{"cidv0", cid.NewCidV0(sha(32)).String(), "is a CIDv0, want CIDv1"},
		{"dag-pb codec", cid.NewCidV1(cid.DagProtobuf, sha(32)).String(), "has codec 0x70, want raw (0x55)"},
		{"sha1", cid.NewCidV1(cid.Raw, sha1).String(), "has multihash 0x11, want sha2-256 (0x12)"},
		{"short digest", cid.NewCidV1(cid.Raw, sha(20)).String(), "has a 20-byte digest, want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseInfohash(tt.in)
			if tt.want == "" {
				if err != nil || !c.Equals(good) {
					t.Fatalf("ParseInfohash(%q) = %s, %v; want %s", tt.in, c, err, good)
				}
				return
			}
			if c.Defined() || !errors.Is(err, ErrBadInfohash) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseInfohash(%q) = %s, %v; want ErrBadInfohash containing %q", tt.in, c, err, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error is %d bytes; the value should be truncated", len(err.Error()))
			}
		})
	}
}

func TestVerifyInfohashRefusesNonInfohash(t *testing.T) {
	data := []byte("x")
	sum := sha256.Sum256(data)
	mh, _ := multihash.Encode(sum[:], multihash.SHA2_256)
	for name, c := range map[string]cid.Cid{
		"undefined": cid.Undef,
		"cidv0":     cid.NewCidV0(mh),
		"dag-pb":    cid.NewCidV1(cid.DagProtobuf, mh),
	} {
		t.Run(name, func(t *testing.T) {
			if err := VerifyInfohash(c, data); !errors.Is(err, ErrBadInfohash) {
				t.Fatalf("VerifyInfohash = %v, want ErrBadInfohash", err)
			}
		})
	}
}
