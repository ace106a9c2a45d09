package p2pshare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestBootstrapDownClassCarriesOn: ten members joined while the bootstrap
// ran; it stops; they still find the share and each other through the DHT
// and all complete the fetch from the one member that had it. A newcomer
// cannot join meanwhile, and says why.
func TestBootstrapDownClassCarriesOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	src, want := randomFile(t, dir, 4<<20)
	ih, err := boot.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	members := make([]*Swarm, 10)
	for i := range members {
		members[i] = testNode(t, boot, nil)
	}
	first, err := members[0].Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "m0")})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	invite, err := boot.Invite(InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	boot.Close()

	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i := 1; i < len(members); i++ {
		wg.Go(func() {
			d, err := members[i].Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "m"+string(rune('0'+i)))})
			if err == nil {
				err = d.Wait(ctx)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := 1; i < len(members); i++ {
		if errs[i] != nil {
			t.Errorf("member %d with the bootstrap down: %v", i, errs[i])
			continue
		}
		got, _ := os.ReadFile(filepath.Join(dir, "m"+string(rune('0'+i))))
		if !bytes.Equal(got, want) {
			t.Errorf("member %d: content differs", i)
		}
	}

	_, err = New(ctx, Config{ListenAddrs: loopback(), Invite: invite, JoinTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "joining the network") {
		t.Fatalf("joining while the bootstrap is down: %v, want a clear refusal", err)
	}
}

// TestRestartKeepsNetwork: a bootstrap restarted from its DataDir keeps its
// identity, its CA and its used invites; a member restarted from its own
// DataDir rejoins with no invite.
func TestRestartKeepsNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bootDir, memberDir := t.TempDir(), t.TempDir()
	loop := loopback()
	boot, err := New(ctx, Config{DataDir: bootDir, ListenAddrs: loop, NewNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	invite, err := boot.Invite(InviteOptions{Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	member, err := New(ctx, Config{DataDir: memberDir, ListenAddrs: loop, Invite: invite})
	if err != nil {
		t.Fatal(err)
	}
	id, memberID := boot.ID(), member.ID()
	member.Close()
	boot.Close()

	boot, err = New(ctx, Config{DataDir: bootDir, ListenAddrs: loop})
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()
	if boot.ID() != id || !boot.IsBootstrap() {
		t.Fatalf("restarted bootstrap: ID %s (was %s), bootstrap %v", boot.ID(), id, boot.IsBootstrap())
	}
	// The used one-time invite stays used, even by a node with a new key.
	_, err = New(ctx, Config{ListenAddrs: loop, Invite: invite, JoinTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("a used invite admitted a second node after a restart")
	}
	// The member rejoins from its DataDir, through the address it kept
	// (the bootstrap listens on a new port, so give it as well).
	member, err = New(ctx, Config{DataDir: memberDir, ListenAddrs: loop, BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}})
	if err != nil {
		t.Fatalf("member restart: %v", err)
	}
	defer member.Close()
	if member.ID() != memberID || member.IsBootstrap() {
		t.Fatalf("restarted member: ID %s (was %s), bootstrap %v", member.ID(), memberID, member.IsBootstrap())
	}
	src, _ := randomFile(t, t.TempDir(), 100<<10)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := member.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "x")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCRLInDHT: a revocation list is stored in the DHT, where members find
// it even with the bootstrap down, and forged or foreign lists are refused.
func TestCRLInDHT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	a, b := testNode(t, boot, nil), testNode(t, boot, nil)
	testNode(t, boot, func(c *Config) { c.Name = "zed" })
	if err := boot.Revoke("zed"); err != nil {
		t.Fatal(err)
	}
	want := boot.net.m.CRLNumber()
	boot.Close()
	// Revoke returns once the list is stored; with the bootstrap gone, a
	// member still finds it.
	crl, err := a.dht.GetValue(ctx, crlKey(a.net.networkID))
	if err != nil {
		t.Fatalf("CRL not retrievable from the DHT with the bootstrap down: %v", err)
	}
	rl, err := b.net.crl.parse(crlKey(b.net.networkID), crl)
	if err != nil || rl.Number.Int64() < want {
		t.Fatalf("the DHT's CRL: %v, number %v, want %d", err, rl, want)
	}
	other := testNode(t, nil, nil)
	foreign := other.net.m.CRL()
	if err := a.net.crl.Validate(crlKey(a.net.networkID), foreign); err == nil {
		t.Fatal("a CRL signed by another network's CA validated")
	}
	if err := a.net.crl.Validate(crlKey(other.net.networkID), foreign); err == nil {
		t.Fatal("a CRL under another network's key validated")
	}
}

// TestRenewalBeforeExpiry: a member whose certificate expires within the
// renewal window gets a fresh one from the bootstrap when it starts, with
// no invite, and keeps it in its DataDir.
func TestRenewalBeforeExpiry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loop := loopback()
	boot := testNode(t, nil, nil)
	memberDir := t.TempDir()
	inv, err := boot.Invite(InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(ctx, Config{DataDir: memberDir, ListenAddrs: loop, Invite: inv, Name: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	id := m.h.ID()
	m.Close()
	// Replace its certificate with one that expires in two days.
	short, err := boot.net.boot.CA().Issue(membership.IssueRequest{Peer: id, Name: "ann", Role: membership.RoleStudent, Now: time.Now(), TTL: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(memberDir, memberDirName)
	creds, err := membership.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	creds.Cert = short.DER
	if err := membership.SaveCredentials(dir, creds); err != nil {
		t.Fatal(err)
	}
	m, err = New(ctx, Config{DataDir: memberDir, ListenAddrs: loop, BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if left := time.Until(m.net.m.Own().NotAfter); left < 20*24*time.Hour {
		t.Fatalf("after a start within the renewal window the certificate has %v left", left.Round(time.Hour))
	}
	saved, err := membership.LoadCredentials(dir)
	if err != nil || bytes.Equal(saved.Cert, short.DER) {
		t.Fatalf("the renewed certificate was not kept in DataDir (%v)", err)
	}
}
