package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestQuota(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a, b := peer.ID("a"), peer.ID("b")
	q := Quota{Keys: 2, Bytes: 100}
	steps := []struct {
		name string
		at   time.Duration
		p    peer.ID
		key  string
		size int
		ttl  time.Duration
		err  error
	}{
		{"first key", 0, a, "k1", 10, time.Hour, nil},
		{"second key", 0, a, "k2", 10, 2 * time.Hour, nil},
		{"third key past the limit", 0, a, "k3", 10, time.Hour, ErrQuota},
		{"the same key again", 0, a, "k1", 20, time.Hour, nil},
		{"another peer", 0, b, "k3", 10, time.Hour, nil},
		{"bytes past the limit", 0, b, "k4", 91, time.Hour, ErrQuota},
		{"grown past the bytes", 0, b, "k3", 101, time.Hour, ErrQuota},
		{"after k1 expired", time.Hour, a, "k3", 10, time.Hour, nil},
		{"an expired record is not charged", time.Hour, b, "k5", 10, -time.Second, nil},
	}
	for _, s := range steps {
		at := now.Add(s.at)
		if err := q.Admit(at, s.p, s.key, s.size, at.Add(s.ttl)); !errors.Is(err, s.err) {
			t.Fatalf("%s: Admit = %v, want %v", s.name, err, s.err)
		}
	}
	if k, n := q.Held(now.Add(time.Hour), a); k != 2 || n != 20 {
		t.Fatalf("a holds %d keys, %d bytes; want 2, 20", k, n)
	}
	// b's k3 has expired, and its expired k5 was never charged.
	if k, _ := q.Held(now.Add(time.Hour), b); k != 0 {
		t.Fatalf("b holds %d keys, want 0", k)
	}
}

func TestBounded(t *testing.T) {
	ctx := context.Background()
	b := NewBounded(ds.NewMapDatastore(), Bound{Records: 2, Bytes: 10})
	steps := []struct {
		op   string
		key  string
		size int
		err  error
	}{
		{"put", "/a", 4, nil},
		{"put", "/b", 4, nil},
		{"put", "/c", 1, ErrStoreFull}, // a third record
		{"put", "/a", 7, ErrStoreFull}, // 11 bytes
		{"put", "/a", 6, nil},          // 10 bytes
		{"delete", "/b", 0, nil},
		{"put", "/c", 4, nil},
	}
	for _, s := range steps {
		var err error
		if s.op == "put" {
			err = b.Put(ctx, ds.NewKey(s.key), make([]byte, s.size))
		} else {
			err = b.Delete(ctx, ds.NewKey(s.key))
		}
		if !errors.Is(err, s.err) {
			t.Fatalf("%s %s (%d bytes) = %v, want %v", s.op, s.key, s.size, err, s.err)
		}
	}
	if n, bytes := b.Held(); n != 2 || bytes != 10 {
		t.Fatalf("held %d records, %d bytes; want 2, 10", n, bytes)
	}
	if ok, _ := b.Has(ctx, ds.NewKey("/b")); ok {
		t.Fatal("/b still held after its delete")
	}
}

// TestBoundedLoad: a store reopened on what a bounded store left counts
// what keep accepts against the bound, and deletes the rest.
func TestBoundedLoad(t *testing.T) {
	ctx := context.Background()
	inner := ds.NewMapDatastore()
	first := NewBounded(inner, Bound{Records: 3, Bytes: 10})
	for k, size := range map[string]int{"/a": 4, "/b": 3, "/expired": 2} {
		if err := first.Put(ctx, ds.NewKey(k), make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	b := NewBounded(inner, Bound{Records: 3, Bytes: 10})
	kept, dropped, err := b.Load(ctx, func(k ds.Key, _ []byte) error {
		if k.String() == "/expired" {
			return ErrExpired
		}
		return nil
	})
	if err != nil || kept != 2 || dropped != 1 {
		t.Fatalf("Load = %d kept, %d dropped, %v; want 2, 1", kept, dropped, err)
	}
	if n, bytes := b.Held(); n != 2 || bytes != 7 {
		t.Fatalf("held %d records, %d bytes; want 2, 7", n, bytes)
	}
	if ok, _ := inner.Has(ctx, ds.NewKey("/expired")); ok {
		t.Fatal("the refused record is still in the store")
	}
	// What it reloaded counts against the bound.
	if err := b.Put(ctx, ds.NewKey("/c"), make([]byte, 4)); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("a put past the bytes reloaded: %v", err)
	}
	if err := b.Put(ctx, ds.NewKey("/c"), make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
}
