package mailbox

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

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
	req := Request{Op: OpPut, Owner: owner, Items: []Item{{Sealed: []byte("sealed"), Sender: a, Expiry: time.Unix(77, 0)}}, IDs: []ItemID{{1, 2}}}
	got, err := DecodeRequest(req.Encode())
	if err != nil || got.Op != req.Op || got.Owner != owner || len(got.Items) != 1 || !bytes.Equal(got.Items[0].Sealed, []byte("sealed")) ||
		got.Items[0].Sender != a || !got.Items[0].Expiry.Equal(time.Unix(77, 0)) || got.IDs[0] != req.IDs[0] {
		t.Fatalf("request %+v, %v", got, err)
	}
	resp := Response{OK: true, Error: "", IDs: []ItemID{{9}}, Items: req.Items}
	r, err := DecodeResponse(resp.Encode())
	if err != nil || !r.OK || r.IDs[0] != resp.IDs[0] || len(r.Items) != 1 {
		t.Fatalf("response %+v, %v", r, err)
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
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			return
		}
		if _, err := DecodeResponse(r.Encode()); err != nil {
			t.Fatalf("re-encoding failed: %v", err)
		}
	})
}
