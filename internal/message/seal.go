// Package message seals private messages between members: signed with the
// sender's identity key and encrypted to the recipient's, so only the
// recipient can read one, any change is detected, and the sender is proven.
// It does no I/O; p2pshare delivers sealed messages directly or parks them
// on the DHT nodes closest to the recipient's inbox.
//
// A member's identity key is its libp2p Ed25519 key, so its peer ID is its
// public key: a sender needs nothing but the recipient's peer ID to seal to
// it. Encryption uses the X25519 form of that key (the birational map from
// Ed25519 to Curve25519, as libsodium's crypto_sign_ed25519_pk_to_curve25519
// and age's ssh-ed25519 recipients do), an ephemeral X25519 key per message,
// HKDF-SHA256 and ChaCha20-Poly1305.
//
// Sealed layout (version 1):
//
//	"p2m1" | ephemeral X25519 public key (32) | AEAD ciphertext of the inner message
//
// Inner layout, all lengths big-endian:
//
//	id (16) | sent, Unix nanoseconds (8) | from (u16 len, peer ID) | to (u16 len, peer ID)
//	| sender's member certificate (u16 len, DER) | body (u32 len) | Ed25519 signature (64)
//
// The signature covers everything before it, prefixed by a domain label,
// so it binds the recipient: a recipient cannot re-seal a message it got to
// someone else as if from the original sender.
package message

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/chacha20poly1305"
)

// Limits, checked before anything is allocated.
const (
	MaxBody   = 64 << 10 // bytes of a message body
	maxCert   = 4 << 10
	maxPeerID = 128
	// MaxSealed bounds a sealed message.
	MaxSealed = len(magic) + 32 + 16 + 8 + 2*(2+maxPeerID) + 2 + maxCert + 4 + MaxBody + ed25519.SignatureSize + chacha20poly1305.Overhead
)

const (
	magic    = "p2m1"
	sigLabel = "p2pshare message v1 signature\x00"
	kdfInfo  = "p2pshare message v1 key"
)

// Errors Open returns, wrapped with detail.
var (
	ErrTooLarge  = errors.New("message: too large")
	ErrMalformed = errors.New("message: malformed")
	// ErrTampered: the ciphertext does not authenticate — changed in
	// transit, or not sealed to this recipient.
	ErrTampered     = errors.New("message: does not authenticate (tampered, or not for this recipient)")
	ErrNotForMe     = errors.New("message: addressed to another member")
	ErrBadSignature = errors.New("message: signature does not match the claimed sender")
)

// Skew is how far a sender's clock may be from its recipient's: a message
// sent (by its sender's clock) more than Skew after the recipient's now is
// refused, as is one sent more than its lifetime plus Skew before it.
const Skew = time.Hour

// ErrStale and ErrFuture: a message's Sent time is outside the window in
// which its recipient still remembers what it delivered (CheckSent).
var (
	ErrStale  = errors.New("message: sent longer ago than messages live")
	ErrFuture = errors.New("message: sent in the future")
)

// CheckSent says whether a message sent at sent may be delivered at now,
// when messages live ttl. A recipient remembers the messages it delivered
// for ttl plus 2*Skew at least after it delivered them (and delivered them
// no earlier than sent minus Skew), so within this window a replay is
// found among them; outside it a replay could not be told from a new
// message, and is refused instead.
func CheckSent(sent, now time.Time, ttl time.Duration) error {
	if sent.After(now.Add(Skew)) {
		return fmt.Errorf("%w: sent at %s, %s ahead of this node's clock (%s allowed)",
			ErrFuture, sent.UTC().Format(time.RFC3339), sent.Sub(now).Round(time.Second), Skew)
	}
	if oldest := now.Add(-ttl - Skew); sent.Before(oldest) {
		return fmt.Errorf("%w: sent at %s, %s ago (messages live %s, clocks may differ by %s)",
			ErrStale, sent.UTC().Format(time.RFC3339), now.Sub(sent).Round(time.Second), ttl, Skew)
	}
	return nil
}

// ID identifies a message; replays carry the same ID.
type ID [16]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Message is an opened message. Its sender's signature has been checked
// against From; whether From is a member in good standing is the caller's
// check, on Cert.
type Message struct {
	ID   ID
	Sent time.Time
	From peer.ID
	To   peer.ID
	Cert []byte // the sender's member certificate (DER)
	Body []byte
}

// Seal signs body as from (whose identity key is key and member
// certificate cert) and encrypts it to the member to.
func Seal(key crypto.PrivKey, cert []byte, to peer.ID, body []byte, sent time.Time) ([]byte, ID, error) {
	var id ID
	if len(body) > MaxBody {
		return nil, id, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(body), MaxBody)
	}
	if len(cert) > maxCert {
		return nil, id, fmt.Errorf("%w: certificate of %d bytes", ErrTooLarge, len(cert))
	}
	from, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, id, fmt.Errorf("message: sender key: %w", err)
	}
	return seal(key, from, cert, to, body, sent)
}

// seal is Seal with the claimed sender given apart from the signing key,
// so tests can forge one.
func seal(key crypto.PrivKey, from peer.ID, cert []byte, to peer.ID, body []byte, sent time.Time) ([]byte, ID, error) {
	var id ID
	edPriv, err := ed25519Private(key)
	if err != nil {
		return nil, id, err
	}
	recipient, err := X25519Public(to)
	if err != nil {
		return nil, id, err
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, id, err
	}
	inner := make([]byte, 0, 16+8+4+len(from)+len(to)+2+len(cert)+4+len(body)+ed25519.SignatureSize)
	inner = append(inner, id[:]...)
	inner = binary.BigEndian.AppendUint64(inner, uint64(sent.UnixNano()))
	inner = appendField16(inner, []byte(from))
	inner = appendField16(inner, []byte(to))
	inner = appendField16(inner, cert)
	inner = binary.BigEndian.AppendUint32(inner, uint32(len(body)))
	inner = append(inner, body...)
	inner = append(inner, ed25519.Sign(edPriv, append([]byte(sigLabel), inner...))...)

	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, id, err
	}
	aead, err := aeadFor(eph, recipient, eph.PublicKey().Bytes())
	if err != nil {
		return nil, id, err
	}
	out := make([]byte, 0, len(magic)+32+len(inner)+aead.Overhead())
	out = append(out, magic...)
	out = append(out, eph.PublicKey().Bytes()...)
	ad := out[:len(magic)+32]
	return aead.Seal(out, make([]byte, aead.NonceSize()), inner, ad), id, nil
}

// Open decrypts a sealed message with the recipient's identity key and
// checks that it is addressed to that recipient and signed by the sender
// it names.
func Open(key crypto.PrivKey, sealed []byte) (Message, error) {
	var m Message
	if len(sealed) > MaxSealed {
		return m, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(sealed), MaxSealed)
	}
	if len(sealed) < len(magic)+32+chacha20poly1305.Overhead || string(sealed[:len(magic)]) != magic {
		return m, fmt.Errorf("%w: not a p2pshare message (%d bytes)", ErrMalformed, len(sealed))
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return m, fmt.Errorf("message: recipient key: %w", err)
	}
	priv, err := X25519Private(key)
	if err != nil {
		return m, err
	}
	ephPub, err := ecdh.X25519().NewPublicKey(sealed[len(magic) : len(magic)+32])
	if err != nil {
		return m, fmt.Errorf("%w: ephemeral key: %v", ErrMalformed, err)
	}
	aead, err := aeadFor(priv, ephPub, ephPub.Bytes())
	if err != nil {
		return m, fmt.Errorf("%w: %v", ErrTampered, err)
	}
	ad := sealed[:len(magic)+32]
	inner, err := aead.Open(nil, make([]byte, aead.NonceSize()), sealed[len(magic)+32:], ad)
	if err != nil {
		return m, ErrTampered
	}
	m, signed, sig, err := decodeInner(inner)
	if err != nil {
		return m, err
	}
	if m.To != self {
		return m, fmt.Errorf("%w: to %s, this node is %s", ErrNotForMe, m.To, self)
	}
	pub, err := ed25519Public(m.From)
	if err != nil {
		return m, fmt.Errorf("%w: sender %s: %v", ErrBadSignature, m.From, err)
	}
	if !ed25519.Verify(pub, append([]byte(sigLabel), signed...), sig) {
		return m, fmt.Errorf("%w: claimed sender %s", ErrBadSignature, m.From)
	}
	return m, nil
}

// decodeInner parses an inner message, returning the signed part and the
// signature. Every length is checked against the limits and the bytes left
// before anything is taken.
func decodeInner(b []byte) (m Message, signed, sig []byte, err error) {
	d := dec{b: b}
	copy(m.ID[:], d.take(16, "id"))
	m.Sent = time.Unix(0, int64(binary.BigEndian.Uint64(pad(d.take(8, "time"), 8))))
	m.From = peer.ID(d.field16(maxPeerID, "sender"))
	m.To = peer.ID(d.field16(maxPeerID, "recipient"))
	m.Cert = d.field16(maxCert, "certificate")
	n := binary.BigEndian.Uint32(pad(d.take(4, "body length"), 4))
	if d.err == nil && n > MaxBody {
		d.err = fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, n, MaxBody)
	}
	m.Body = d.take(int(min(n, MaxBody)), "body")
	signedLen := d.off
	sig = d.take(ed25519.SignatureSize, "signature")
	if d.err == nil && d.off != len(b) {
		d.err = fmt.Errorf("%w: %d bytes after the signature", ErrMalformed, len(b)-d.off)
	}
	if d.err != nil {
		return Message{}, nil, nil, d.err
	}
	if _, err := m.From.ExtractPublicKey(); err != nil {
		return Message{}, nil, nil, fmt.Errorf("%w: sender is not a peer ID: %v", ErrMalformed, err)
	}
	return m, b[:signedLen], sig, nil
}

type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("%w: %s truncated", ErrMalformed, what)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) field16(limit int, what string) []byte {
	l := d.take(2, what+" length")
	if d.err != nil {
		return nil
	}
	n := int(binary.BigEndian.Uint16(l))
	if n > limit {
		d.err = fmt.Errorf("%w: %s of %d bytes, limit %d", ErrMalformed, what, n, limit)
		return nil
	}
	return d.take(n, what)
}

// pad returns b, or n zero bytes if a failed take left it nil.
func pad(b []byte, n int) []byte {
	if len(b) == n {
		return b
	}
	return make([]byte, n)
}

func appendField16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// aeadFor derives the message key from the X25519 exchange of priv and pub,
// salted with the ephemeral public key, so every message has its own key and
// a fixed nonce is safe.
func aeadFor(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, ephPub []byte) (interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
	NonceSize() int
	Overhead() int
}, error) {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, err
	}
	k, err := hkdf.Key(sha256.New, shared, ephPub, kdfInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(k)
}

func ed25519Private(key crypto.PrivKey) (ed25519.PrivateKey, error) {
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("message: identity key is %v, need Ed25519", key.Type())
	}
	raw, err := key.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("message: identity key does not export: %v", err)
	}
	return ed25519.PrivateKey(raw), nil
}

func ed25519Public(p peer.ID) (ed25519.PublicKey, error) {
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("message: peer %s: %w", p, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("message: peer %s has a %v key, need Ed25519", p, pk.Type())
	}
	raw, err := pk.Raw()
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("message: peer %s: key does not export: %v", p, err)
	}
	return ed25519.PublicKey(raw), nil
}

// X25519Private is the X25519 form of an Ed25519 identity key: the clamped
// scalar its signatures use (RFC 8032 §5.1.5), clamping left to X25519.
func X25519Private(key crypto.PrivKey) (*ecdh.PrivateKey, error) {
	ed, err := ed25519Private(key)
	if err != nil {
		return nil, err
	}
	h := sha512.Sum512(ed.Seed())
	return ecdh.X25519().NewPrivateKey(h[:32])
}

// fieldP is 2^255 - 19.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// X25519Public is the X25519 form of peer p's Ed25519 key: the Montgomery
// u = (1 + y) / (1 - y) of the Edwards point's y coordinate (RFC 7748 §4.1).
func X25519Public(p peer.ID) (*ecdh.PublicKey, error) {
	pub, err := ed25519Public(p)
	if err != nil {
		return nil, err
	}
	le := make([]byte, 32)
	copy(le, pub)
	le[31] &= 0x7f // the sign of x
	y := new(big.Int).SetBytes(reverse(le))
	if y.Cmp(fieldP) >= 0 {
		return nil, fmt.Errorf("message: peer %s: key is not canonical", p)
	}
	den := new(big.Int).Sub(big.NewInt(1), y)
	den.Mod(den, fieldP)
	if den.Sign() == 0 {
		return nil, fmt.Errorf("message: peer %s: key has no X25519 form", p)
	}
	u := new(big.Int).Add(big.NewInt(1), y)
	u.Mul(u, den.ModInverse(den, fieldP))
	u.Mod(u, fieldP)
	out := make([]byte, 32)
	u.FillBytes(out)
	return ecdh.X25519().NewPublicKey(reverse(out))
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[len(b)-1-i] = v
	}
	return out
}
