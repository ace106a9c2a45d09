package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
)

func passAll(_ peer.ID, _ []byte, it Item) (Item, error) { return it, nil }

// TestOpenStoreKeepsWhatItHeld: a store reopened on its datastore holds
// the items, certificates and refusals it held, charges the items to
// their quotas again, and drops what expired meanwhile or fails the
// check.
func TestOpenStoreKeepsWhatItHeld(t *testing.T) {
	ctx := context.Background()
	d := dssync.MutexWrap(ds.NewMapDatastore())
	now := time.Unix(1000, 0)
	owner, other, a, b := newPeer(t), newPeer(t), newPeer(t), newPeer(t)
	s, l, err := OpenStore(ctx, d, now, passAll)
	if err != nil || l != (Loaded{}) {
		t.Fatalf("empty: %+v, %v", l, err)
	}
	for i := range MaxPerSender {
		if ok, err := s.Put(owner, Item{Sealed: fmt.Appendf(nil, "a%d", i), Sender: a, Expiry: now.Add(time.Hour)}, now); !ok || err != nil {
			t.Fatalf("put %d: %v %v", i, ok, err)
		}
	}
	s.KeepCert(owner, []byte("owner cert"))
	short := Item{Sealed: []byte("short"), Sender: b, Expiry: now.Add(time.Minute), Cert: []byte("c"), Sig: []byte("s")}
	bad := Item{Sealed: []byte("refused after the restart"), Sender: b, Expiry: now.Add(time.Hour)}
	for _, it := range []Item{short, bad} {
		if ok, err := s.Put(owner, it, now); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	s.Put(other, Item{Sealed: []byte("for other"), Sender: b, Expiry: now.Add(time.Hour)}, now)
	s.Delete(other, []ItemID{IDOf([]byte("for other"))})

	later := now.Add(2 * time.Minute)
	check := func(o peer.ID, cert []byte, it Item) (Item, error) {
		if o == owner && string(cert) != "owner cert" {
			t.Errorf("owner's certificate came back as %q", cert)
		}
		if bytes.Equal(it.Sealed, bad.Sealed) {
			return it, errors.New("sender revoked")
		}
		return it, nil
	}
	s2, l, err := OpenStore(ctx, d, later, check)
	if err != nil {
		t.Fatal(err)
	}
	if l.Items != MaxPerSender || l.Dropped != 2 {
		t.Fatalf("reopened: %+v, want %d held and 2 dropped", l, MaxPerSender)
	}
	if got := s2.Items(owner); len(got) != MaxPerSender || got[0].Sender != a {
		t.Fatalf("%d items back", len(got))
	}
	if string(s2.Cert(owner)) != "owner cert" {
		t.Fatalf("certificate %q", s2.Cert(owner))
	}
	if s2.bytes != s.bytes-short.size()-bad.size() {
		t.Fatalf("%d bytes charged, want %d", s2.bytes, s.bytes-short.size()-bad.size())
	}
	// The sender's quota is full again; the deleted item is still refused.
	if _, err := s2.Put(owner, Item{Sealed: []byte("one more"), Sender: a, Expiry: later.Add(time.Hour)}, later); !errors.Is(err, ErrQuota) {
		t.Fatalf("over the sender's quota after the restart: %v", err)
	}
	if ok, _ := s2.Put(other, Item{Sealed: []byte("for other"), Sender: b, Expiry: now.Add(time.Hour)}, later); ok {
		t.Fatal("an item its owner deleted was parked again after the restart")
	}
	// What went is gone from the datastore too.
	s2.Drop(owner)
	s3, l, err := OpenStore(ctx, d, later, passAll)
	if err != nil || l.Items != 0 || len(s3.Owners()) != 0 {
		t.Fatalf("after Drop: %+v, %v, owners %v", l, err, s3.Owners())
	}
	if n := s3.Expire(now.Add(2 * time.Hour)); n != 0 || len(s3.gone) != 0 {
		t.Fatalf("expired %d, refusals left %d", n, len(s3.gone))
	}
	s4, _, _ := OpenStore(ctx, d, now, passAll)
	if len(s4.gone) != 0 {
		t.Fatal("an expired refusal came back")
	}
}

// TestOpenStoreDropsDamage: entries that do not decode, or are filed
// under another ID, are deleted, not held.
func TestOpenStoreDropsDamage(t *testing.T) {
	ctx := context.Background()
	d := dssync.MutexWrap(ds.NewMapDatastore())
	now := time.Unix(1000, 0)
	owner, a := newPeer(t), newPeer(t)
	good := Item{Sealed: []byte("good"), Sender: a, Expiry: now.Add(time.Hour)}
	for _, c := range []struct {
		key   ds.Key
		value []byte
	}{
		{itemKey(owner, IDOf([]byte("other"))), encodeItem(good)},
		{itemKey(owner, IDOf([]byte("x"))), []byte("garbage")},
		{ds.RawKey(itemPrefix + "/not-a-peer/" + IDOf(good.Sealed).String()), encodeItem(good)},
		{ds.RawKey(itemPrefix + "/" + owner.String()), encodeItem(good)},
		{ds.RawKey(gonePrefix + "/zz"), []byte("12345678")},
		{certKey(a), []byte("cert of an owner with nothing held")},
		{itemKey(owner, IDOf(good.Sealed)), encodeItem(good)},
	} {
		if err := d.Put(ctx, c.key, c.value); err != nil {
			t.Fatal(err)
		}
	}
	s, l, err := OpenStore(ctx, d, now, passAll)
	if err != nil || l.Items != 1 || l.Dropped != 4 || len(s.Items(owner)) != 1 {
		t.Fatalf("%+v, %v", l, err)
	}
	n := 0
	for _, prefix := range []string{itemPrefix, gonePrefix, certPrefix} {
		if err := each(ctx, d, prefix, func(ds.Key, []byte) { n++ }); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 {
		t.Fatalf("%d entries left, want the good item alone", n)
	}
}

func FuzzDecodeItem(f *testing.F) {
	f.Add(encodeItem(Item{Sealed: []byte("sealed"), Sender: "p", Expiry: time.Unix(5, 0), Cert: []byte("c"), Sig: []byte("s")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeItem(b)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeItem(it), b) {
			t.Fatalf("%x decoded to %+v, which encodes differently", b, it)
		}
	})
}
