package manifest

import (
	"crypto/sha256"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// Infohash returns the share's infohash: the CID of m's canonical encoding
// (see InfohashOf). It fails only if m is invalid.
func (m *Manifest) Infohash() (cid.Cid, error) {
	b, err := m.Encode()
	if err != nil {
		return cid.Undef, err
	}
	return InfohashOf(b), nil
}

// InfohashOf returns the infohash naming an encoded manifest: a CIDv1 with
// codec raw and a SHA-2-256 multihash of the bytes. Raw, because the bytes are
// our own format rather than IPLD; a CID, so the DHT and every libp2p tool
// already know how to carry and print it.
func InfohashOf(encoded []byte) cid.Cid {
	sum := sha256.Sum256(encoded)
	mh, _ := multihash.Encode(sum[:], multihash.SHA2_256) // error is always nil
	return cid.NewCidV1(cid.Raw, mh)
}

// maxInfohashText bounds an infohash's string form.
const maxInfohashText = 128

// ParseInfohash parses the string form of an infohash, in any multibase, and
// refuses, wrapping ErrBadInfohash, anything InfohashOf could not have made:
// the empty string, text that is not a CID, a CIDv0, a codec other than raw,
// or a hash other than a full-length SHA-2-256.
func ParseInfohash(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, errorf(ErrBadInfohash, "infohash is empty")
	}
	// Every multibase form of a CIDv1 sha2-256 is well under this; longer
	// text is refused before decoding, whose cost grows with the square of
	// the length in some bases.
	if len(s) > maxInfohashText {
		return cid.Undef, errorf(ErrBadInfohash, "infohash of %d characters is too long (at most %d)", len(s), maxInfohashText)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, errorf(ErrBadInfohash, "infohash %s does not parse as a CID: %v", quote(s), err)
	}
	if prob := infohashProblem(c); prob != "" {
		return cid.Undef, errorf(ErrBadInfohash, "infohash %s %s", quote(s), prob)
	}
	return c, nil
}

// infohashProblem says what, if anything, makes c other than an infohash,
// phrased to follow the infohash in a sentence.
func infohashProblem(c cid.Cid) string {
	p := c.Prefix()
	switch {
	case p.Version != 1:
		return fmt.Sprintf("is a CIDv%d, want CIDv1", p.Version)
	case p.Codec != cid.Raw:
		return fmt.Sprintf("has codec 0x%x, want raw (0x%x)", p.Codec, uint64(cid.Raw))
	case p.MhType != multihash.SHA2_256:
		return fmt.Sprintf("has multihash 0x%x, want sha2-256 (0x%x)", p.MhType, uint64(multihash.SHA2_256))
	case p.MhLength != sha256.Size:
		return fmt.Sprintf("has a %d-byte digest, want %d", p.MhLength, sha256.Size)
	}
	return ""
}

// VerifyInfohash reports whether encoded is the manifest that infohash c
// names. A mismatch wraps ErrInfohashMismatch; a c that is not an infohash at
// all wraps ErrBadInfohash.
func VerifyInfohash(c cid.Cid, encoded []byte) error {
	if !c.Defined() {
		return errorf(ErrBadInfohash, "infohash is undefined")
	}
	if prob := infohashProblem(c); prob != "" {
		return errorf(ErrBadInfohash, "infohash %s %s", quote(c.String()), prob)
	}
	if got := InfohashOf(encoded); !got.Equals(c) {
		return errorf(ErrInfohashMismatch, "%d bytes hash to %s, want %s", len(encoded), got, c)
	}
	return nil
}
