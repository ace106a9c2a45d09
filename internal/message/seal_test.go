package message

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

type member struct {
	key crypto.PrivKey
	id  peer.ID
}

func newMember(t testing.TB) member {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return member{k, id}
}

var cert = []byte("a member certificate, opaque here")

func TestSealOpen(t *testing.T) {
	a, b := newMember(t), newMember(t)
	body := []byte("meet at the lab at nine; the quiz key is 4-7-1")
	now := time.Unix(1764000000, 123)
	sealed, id, err := Seal(a.key, cert, b.id, body, now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(b.key, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != id || !m.Sent.Equal(now) || m.From != a.id || m.To != b.id || !bytes.Equal(m.Cert, cert) || !bytes.Equal(m.Body, body) {
		t.Fatalf("opened %+v", m)
	}
	if bytes.Contains(sealed, body[:16]) {
		t.Fatal("the sealed message shows the body")
	}
	// Two seals of one body differ (fresh ID and ephemeral key).
	again, id2, _ := Seal(a.key, cert, b.id, body, now)
	if id2 == id || bytes.Equal(again, sealed) {
		t.Fatal("sealing twice gave the same message")
	}
}

func TestX25519FormsAgree(t *testing.T) {
	for range 20 {
		m := newMember(t)
		priv, err := X25519Private(m.key)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := X25519Public(m.id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(priv.PublicKey().Bytes(), pub.Bytes()) {
			t.Fatalf("X25519 forms of %s disagree", m.id)
		}
	}
}

// TestOthersCannotRead: a node holding the message (a DHT holder, or any
// member but the recipient) cannot open it with its own keys.
func TestOthersCannotRead(t *testing.T) {
	a, b, holder := newMember(t), newMember(t), newMember(t)
	sealed, _, err := Seal(a.key, cert, b.id, []byte("for b only"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []crypto.PrivKey{holder.key, a.key} {
		if _, err := Open(k, sealed); !errors.Is(err, ErrTampered) {
			t.Fatalf("opened by a non-recipient: %v", err)
		}
	}
}

// TestEveryFlippedBitRejected flips each bit of a sealed message in turn.
func TestEveryFlippedBitRejected(t *testing.T) {
	a, b := newMember(t), newMember(t)
	sealed, _, err := Seal(a.key, cert, b.id, []byte("x"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(sealed) * 8 {
		c := bytes.Clone(sealed)
		c[i/8] ^= 1 << (i % 8)
		if m, err := Open(b.key, c); err == nil {
			t.Fatalf("bit %d flipped and still opened: %+v", i, m)
		}
	}
	if _, err := Open(b.key, sealed[:len(sealed)-1]); err == nil {
		t.Fatal("a truncated message opened")
	}
	if _, err := Open(b.key, append(bytes.Clone(sealed), 0)); err == nil {
		t.Fatal("a message with a byte appended opened")
	}
}

// TestForgedSender: C signs a message that claims to come from A.
func TestForgedSender(t *testing.T) {
	a, b, c := newMember(t), newMember(t), newMember(t)
	forged, _, err := seal(c.key, a.id, cert, b.id, []byte("from a, honest"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(b.key, forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged sender: %v, want ErrBadSignature", err)
	}
}

// TestNotReSealable: B cannot pass A's message on to D as if A sent it to D:
// the signature binds the recipient.
func TestNotReSealable(t *testing.T) {
	a, b, d := newMember(t), newMember(t), newMember(t)
	sealed, _, _ := Seal(a.key, cert, b.id, []byte("for b"), time.Now())
	m, err := Open(b.key, sealed)
	if err != nil {
		t.Fatal(err)
	}
	// B re-encrypts the same inner bytes to D, keeping A's signature.
	inner, err := Open(b.key, sealed)
	if err != nil || inner.To != b.id {
		t.Fatal(err)
	}
	resealed, _, err := seal(b.key, m.From, m.Cert, d.id, m.Body, m.Sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(d.key, resealed); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-sealed message: %v, want ErrBadSignature", err)
	}
}

func TestLimits(t *testing.T) {
	a, b := newMember(t), newMember(t)
	if _, _, err := Seal(a.key, cert, b.id, make([]byte, MaxBody+1), time.Now()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize body: %v", err)
	}
	sealed, _, err := Seal(a.key, make([]byte, maxCert), b.id, make([]byte, MaxBody), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) > MaxSealed {
		t.Fatalf("largest message is %d bytes, MaxSealed %d", len(sealed), MaxSealed)
	}
	if _, err := Open(b.key, make([]byte, MaxSealed+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize sealed: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	a, b := newMember(f), newMember(f)
	sealed, _, _ := Seal(a.key, cert, b.id, []byte("seed"), time.Unix(1, 0))
	f.Add(sealed)
	f.Add([]byte("p2m1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Open(b.key, in)
		if err == nil && (m.To != b.id || len(m.Body) > MaxBody) {
			t.Fatalf("opened %+v", m)
		}
	})
}

// FuzzDecodeInner reaches the inner decoder, which the AEAD otherwise
// keeps random bytes from.
func FuzzDecodeInner(f *testing.F) {
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, signed, sig, err := decodeInner(in)
		if err == nil && (len(sig) != 64 || len(signed) > len(in) || len(m.Body) > MaxBody) {
			t.Fatalf("decoded %+v", m)
		}
	})
}
