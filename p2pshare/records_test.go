package p2pshare

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/replication"
)

// TestDHTRecordLies: a member stores, on the other nodes, the current
// revocation list sealed to live ten years and an old list sealed with a
// huge version. Both are refused; every node keeps the current list with an
// expiry within the record TTL, and a lookup finds the current list.
func TestDHTRecordLies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	a, b := testNode(t, boot, nil), testNode(t, boot, nil)
	testNode(t, boot, func(c *Config) { c.Name = "zed" })
	testNode(t, boot, func(c *Config) { c.Name = "yan" })
	if err := boot.Revoke("zed"); err != nil {
		t.Fatal(err)
	}
	old := boot.net.m.CRL()
	if err := boot.Revoke("yan"); err != nil {
		t.Fatal(err)
	}
	cur, want := boot.net.m.CRL(), boot.net.m.CRLNumber()
	key := crlKey(boot.net.networkID)
	now := time.Now()
	lies := []struct {
		name string
		e    replication.Envelope
	}{
		{"the current list sealed for ten years", replication.Envelope{Version: uint64(want), Expiry: now.AddDate(10, 0, 0), Payload: cur}},
		{"an old list sealed with version 2^62", replication.Envelope{Version: 1 << 62, Expiry: now.Add(time.Hour), Payload: old}},
	}
	for _, victim := range []*Swarm{boot, b} {
		for _, lie := range lies {
			if err := a.dht.StoreAt(ctx, victim.h.ID(), key, lie.e.Seal()); err == nil {
				t.Errorf("%s: stored at %s", lie.name, victim.ID())
			}
		}
	}
	limit := time.Now().Add(24*time.Hour + replication.ExpirySkew)
	for _, s := range []*Swarm{boot, a, b} {
		e, ok := s.dht.Stored(ctx, key)
		if !ok {
			continue
		}
		if n := crlNumber(t, e.Payload); n != want {
			t.Errorf("%s holds CRL number %d, want %d", s.ID(), n, want)
		}
		if e.Expiry.After(limit) {
			t.Errorf("%s holds the CRL until %s, past the TTL (%s)", s.ID(), e.Expiry, limit)
		}
	}
	got, err := b.dht.GetValue(ctx, key)
	if err != nil {
		t.Fatalf("looking the CRL up: %v", err)
	}
	if n := crlNumber(t, got); n != want {
		t.Fatalf("the lookup found CRL number %d, want %d", n, want)
	}
}

func crlNumber(t *testing.T, der []byte) int64 {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parsing a stored CRL: %v", err)
	}
	return rl.Number.Int64()
}

// TestDirectoryEntryLies: a member's directory entry sealed with a version
// that is not its certificate's NotBefore, or to live ten years, is refused
// by the other members, and the entry they hold stays the honest one.
func TestDirectoryEntryLies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	a := testNode(t, boot, func(c *Config) { c.Name = "ann" })
	b := testNode(t, boot, nil)
	own := a.net.m.Own()
	key, honest := memberKey(own.Name), uint64(own.NotBefore.Unix())
	now := time.Now()
	lies := []struct {
		name string
		e    replication.Envelope
	}{
		{"sealed for ten years", replication.Envelope{Version: honest, Expiry: now.AddDate(10, 0, 0), Payload: own.DER}},
		{"sealed with version 2^62", replication.Envelope{Version: 1 << 62, Expiry: now.Add(time.Hour), Payload: own.DER}},
	}
	for _, victim := range []*Swarm{boot, b} {
		for _, lie := range lies {
			if err := a.dht.StoreAt(ctx, victim.h.ID(), key, lie.e.Seal()); err == nil {
				t.Errorf("%s: stored at %s", lie.name, victim.ID())
			}
		}
	}
	limit := time.Now().Add(24*time.Hour + replication.ExpirySkew)
	for _, s := range []*Swarm{boot, b} {
		if e, ok := s.dht.Stored(ctx, key); ok && (e.Version != honest || e.Expiry.After(limit)) {
			t.Errorf("%s holds the entry as version %d until %s; want version %d until %s at most",
				s.ID(), e.Version, e.Expiry, honest, limit)
		}
	}
}
