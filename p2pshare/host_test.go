package p2pshare

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ownHost is a program's own libp2p host on loopback, built with g as its
// gater, closed when the test ends.
func ownHost(t *testing.T, g *Gater) host.Host {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opts := []libp2p.Option{libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay()}
	if g != nil {
		opts = append(opts, libp2p.ConnectionGater(g))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestConfigHost: a node runs on a host its program built: it joins as
// that host's peer, fetches a share, refuses a revoked member at the
// handshake through the host's gater, and on Close leaves the host up,
// with none of p2pshare's protocols and its gater passing everyone again.
func TestConfigHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	g := NewGater()
	h := ownHost(t, g)
	s := testNode(t, boot, func(c *Config) { c.Host, c.HostGater, c.ListenAddrs = h, g, nil })
	if s.ID() != h.ID() {
		t.Fatalf("node ID %s, want the host's %s", s.ID(), h.ID())
	}
	if _, err := New(ctx, Config{Host: h, HostGater: g, NewNetwork: true}); err == nil || !strings.Contains(err.Error(), "running on Config.Host already") {
		t.Fatalf("a second Swarm on the host: %v, want a refusal", err)
	}
	src, want := randomFile(t, dir, 200<<10)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.bin")); !bytes.Equal(got, want) {
		t.Fatal("content fetched on the program's host differs from the source")
	}

	// A member the bootstrap revokes is refused by the program's host,
	// during the handshake.
	bad := testNode(t, boot, func(c *Config) { c.Name = "mallory" })
	waitUntil(t, 30*time.Second, "the node on the program's host meets mallory", func() bool {
		_ = bad.h.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
		return s.IsMember(bad.ID())
	})
	if err := boot.Revoke("mallory"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the node on the program's host drops mallory", func() bool {
		return !s.IsMember(bad.ID()) && h.Network().Connectedness(bad.ID()) != network.Connected
	})
	// The host's gater refuses it: a dial from the host fails at once, and
	// a connection from it fails once its peer ID is known.
	badInfo := peer.AddrInfo{ID: bad.ID(), Addrs: bad.h.Addrs()}
	if err := h.Connect(network.WithForceDirectDial(ctx, "test"), badInfo); err == nil {
		t.Fatal("the program's host dialled the revoked member")
	}
	if g.InterceptSecured(network.DirInbound, bad.ID(), nil) {
		t.Fatal("the host's gater lets the revoked member's connection through")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range h.Mux().Protocols() {
		if strings.HasPrefix(string(p), "/p2pshare/") {
			t.Errorf("protocol %s still handled after Close", p)
		}
	}
	// The host is up, and its gater no longer screens: it dials the
	// revoked peer (no member of anything the program runs now).
	if err := h.Connect(network.WithForceDirectDial(ctx, "test"), badInfo); err != nil {
		t.Fatalf("the program's host dialling after Close: %v", err)
	}
	if !g.InterceptSecured(network.DirInbound, bad.ID(), nil) {
		t.Fatal("the host's gater still screens after Close")
	}
}

// TestConfigHostRefusals: a host without the gater, or with fields that
// shape a host of p2pshare's own, is refused with the field named.
func TestConfigHostRefusals(t *testing.T) {
	g := NewGater()
	h := ownHost(t, g)
	other, _, _ := crypto.GenerateEd25519Key(crand.Reader)
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no gater", Config{Host: h}, "Config.Host needs Config.HostGater"},
		{"gater without host", Config{HostGater: g}, "Config.HostGater is set without Config.Host"},
		{"listen addresses", Config{Host: h, HostGater: g, ListenAddrs: loopback()}, "Config.ListenAddrs is set with Config.Host"},
		{"QUIC", Config{Host: h, HostGater: g, QUIC: true}, "Config.QUIC"},
		{"MaxPeers", Config{Host: h, HostGater: g, MaxPeers: 5}, "Config.MaxPeers"},
		{"another identity", Config{Host: h, HostGater: g, Identity: other, NewNetwork: true}, "Config.Identity is not the key of Config.Host's peer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(context.Background(), c.cfg)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error containing %q", err, c.want)
			}
		})
	}
	// None of the refusals took the gater: a node starts on the host.
	s, err := New(context.Background(), Config{Host: h, HostGater: g, NewNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
