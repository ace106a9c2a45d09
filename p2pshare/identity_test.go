package p2pshare

import (
	"context"
	crand "crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestConfigIdentity: a node started with its program's own key is that
// key's peer, joins with it, and starts again from its DataDir as the same
// member without the key ever being written there; a DataDir that keeps
// another peer's key, or one whose membership is another peer's, is
// refused with an error that names both peers.
func TestConfigIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	key, _, err := crypto.GenerateEd25519Key(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := peer.IDFromPrivateKey(key)
	dir := t.TempDir()
	m := testNode(t, boot, func(c *Config) { c.Identity = key; c.DataDir = dir })
	if m.ID() != want {
		t.Fatalf("ID %s, want the key's peer %s", m.ID(), want)
	}
	if !waitMember(ctx, boot, want) {
		t.Fatalf("the bootstrap never saw %s as a member", want)
	}
	if _, err := os.Stat(filepath.Join(dir, "identity.key")); err == nil {
		t.Fatal("Config.Identity was written to DataDir")
	}
	m.Close()

	// The same key and DataDir: the same member, no invite needed.
	again := testNode(t, nil, func(c *Config) {
		c.Identity = key
		c.DataDir = dir
		c.BootstrapPeers = []peer.AddrInfo{boot.AddrInfo()}
	})
	if again.ID() != want || again.IsBootstrap() {
		t.Fatalf("restarted: ID %s bootstrap %v, want member %s", again.ID(), again.IsBootstrap(), want)
	}
	again.Close()

	other, _, _ := crypto.GenerateEd25519Key(crand.Reader)
	otherID, _ := peer.IDFromPrivateKey(other)
	// A DataDir whose membership is another peer's.
	_, err = New(ctx, Config{Identity: other, DataDir: dir, ListenAddrs: loopback(), BootstrapPeers: []peer.AddrInfo{boot.AddrInfo()}})
	if err == nil || !strings.Contains(err.Error(), otherID.String()) || !strings.Contains(err.Error(), want.String()) {
		t.Fatalf("another key on a member's DataDir: %v, want an error naming %s and %s", err, otherID, want)
	}
	// A DataDir that keeps another key.
	kept := t.TempDir()
	first := testNode(t, nil, func(c *Config) { c.DataDir = kept })
	first.Close()
	_, err = New(ctx, Config{Identity: key, DataDir: kept, ListenAddrs: loopback(), NewNetwork: true})
	if err == nil || !strings.Contains(err.Error(), first.ID().String()) || !strings.Contains(err.Error(), "Config.Identity") {
		t.Fatalf("a DataDir keeping another key: %v, want an error naming Config.Identity and %s", err, first.ID())
	}
}

// waitMember polls until s has seen p's member certificate or ctx ends.
func waitMember(ctx context.Context, s *Swarm, p peer.ID) bool {
	for !s.IsMember(p) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}
