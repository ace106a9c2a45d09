package mailbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newPeer(t testing.TB) peer.ID {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return id
}

func TestStoreQuotasAndRefusals(t *testing.T) {
	s := NewStore()
	owner, a, b := newPeer(t), newPeer(t), newPeer(t)
	now := time.Unix(1000, 0)
	exp := now.Add(time.Hour)
	for i := range MaxPerSender {
		if ok, err := s.Put(owner, Item{Sealed: fmt.Appendf(nil, "a%d", i), Sender: a, Expiry: exp}, now); !ok || err != nil {
			t.Fatalf("put %d: %v %v", i, ok, err)
		}
	}
	if _, err := s.Put(owner, Item{Sealed: []byte("one more"), Sender: a, Expiry: exp}, now); !errors.Is(err, ErrQuota) {
		t.Fatalf("over the per-sender quota: %v", err)
	}
	if ok, err := s.Put(owner, Item{Sealed: []byte("from b"), Sender: b, Expiry: exp}, now); !ok || err != nil {
		t.Fatalf("another sender refused: %v", err)
	}
	if ok, _ := s.Put(owner, Item{Sealed: []byte("a0"), Sender: b, Expiry: exp}, now); !ok {
		t.Fatal("a duplicate is not reported held")
	}
	if ok, _ := s.Put(owner, Item{Sealed: []byte("late"), Sender: b, Expiry: now}, now); ok {
		t.Fatal("an expired item was parked")
	}
	if got := len(s.IDs(owner)); got != MaxPerSender+1 {
		t.Fatalf("%d items held", got)
	}
	// The owner deletes one: it goes, and is refused if pushed again.
	s.Delete(owner, []ItemID{IDOf([]byte("from b"))})
	if ok, _ := s.Put(owner, Item{Sealed: []byte("from b"), Sender: b, Expiry: exp}, now); ok {
		t.Fatal("a deleted item was parked again")
	}
	if n := s.Expire(exp); n != MaxPerSender {
		t.Fatalf("expired %d", n)
	}
	if len(s.Owners()) != 0 || s.bytes != 0 {
		t.Fatalf("left %v, %d bytes", s.Owners(), s.bytes)
	}
}

func TestWireRoundTrip(t *testing.T) {
	owner, a := newPeer(t), newPeer(t)
	it := Item{Sealed: []byte("sealed"), Sender: a, Expiry: time.Unix(77, 0), Cert: []byte("cert of a"), Sig: []byte("sig")}
	req := Request{Op: OpPut, Owner: owner, OwnerCert: []byte("cert of owner"), Items: []Item{it}, IDs: []ItemID{{1, 2}}}
	got, err := DecodeRequest(req.Encode())
	if err != nil || got.Op != req.Op || got.Owner != owner || string(got.OwnerCert) != "cert of owner" || len(got.Items) != 1 || !bytes.Equal(got.Items[0].Sealed, []byte("sealed")) ||
		got.Items[0].Sender != a || !got.Items[0].Expiry.Equal(time.Unix(77, 0)) || string(got.Items[0].Cert) != "cert of a" || string(got.Items[0].Sig) != "sig" || got.IDs[0] != req.IDs[0] {
		t.Fatalf("request %+v, %v", got, err)
	}
	for _, resp := range []Response{
		{OK: true, IDs: []ItemID{{9}}, Items: req.Items},
		{OK: true, More: true, Items: req.Items},
		{Error: "no"},
	} {
		r, err := DecodeResponse(resp.Encode())
		if err != nil || r.OK != resp.OK || r.More != resp.More || r.Error != resp.Error || len(r.IDs) != len(resp.IDs) || len(r.Items) != len(resp.Items) {
			t.Fatalf("response %+v came back as %+v, %v", resp, r, err)
		}
	}
	if r, _ := DecodeResponse(Response{More: true, Error: "no"}.Encode()); r.More {
		t.Fatal("More without OK survived the round trip")
	}
	if _, err := DecodeResponse([]byte{3, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("status 3: %v", err)
	}
	if _, err := DecodeRequest([]byte{9, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad op: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFrame(&buf); err != nil || string(b) != "abc" {
		t.Fatalf("frame %q %v", b, err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversize frame: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(Request{Op: OpPut, Owner: newPeer(f), Items: []Item{{Sealed: []byte("x"), Sender: "s", Expiry: time.Unix(1, 0)}}}.Encode())
	f.Add(Request{Op: OpPut, Owner: newPeer(f), OwnerCert: []byte("owner cert"), Items: []Item{{Sealed: []byte("x"), Sender: "s", Expiry: time.Unix(1, 0), Cert: []byte("c"), Sig: []byte("sig")}}}.Encode())
	f.Add(Request{Op: OpTake, Owner: newPeer(f), IDs: []ItemID{{3}}}.Encode())
	f.Add(Request{Op: OpDel, Owner: newPeer(f), IDs: []ItemID{{1}}}.Encode())
	f.Add(Request{Op: OpHave, Owner: newPeer(f), IDs: []ItemID{{1}, {2}}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		again, err := DecodeRequest(r.Encode())
		if err != nil || again.Op != r.Op || again.Owner != r.Owner || len(again.Items) != len(r.Items) || len(again.IDs) != len(r.IDs) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", r, again, err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(Response{OK: true, IDs: []ItemID{{1}}, Items: []Item{{Sealed: []byte("x"), Expiry: time.Unix(1, 0)}}}.Encode())
	f.Add(Response{OK: true, More: true, Items: []Item{{Sealed: []byte("x"), Sender: "s", Expiry: time.Unix(1, 0), Cert: []byte("c"), Sig: []byte("sig")}}}.Encode())
	f.Add(Response{Error: "refused"}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			return
		}
		again, err := DecodeResponse(r.Encode())
		if err != nil || again.OK != r.OK || again.More != r.More || len(again.Items) != len(r.Items) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", r, again, err)
		}
	})
}

// TestLongErrorCut: a holder's error text longer than a response carries
// is cut, not turned into a response its asker cannot decode.
func TestLongErrorCut(t *testing.T) {
	long := strings.Repeat("é", 2000)
	r, err := DecodeResponse(Response{Error: long}.Encode())
	if err != nil || len(r.Error) > maxError || !strings.HasSuffix(r.Error, "…") || !utf8.ValidString(r.Error) {
		t.Fatalf("error of %d bytes came back as %d bytes (%v)", len(long), len(r.Error), err)
	}
}
