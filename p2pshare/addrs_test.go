package p2pshare

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestLibp2pTypes: a node's ID, AddrInfo and Addrs are libp2p's types and
// agree; a member restarts through Config.BootstrapPeers given as
// peer.AddrInfo, two entries of one peer merged.
func TestLibp2pTypes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	info := boot.AddrInfo()
	if info.ID != boot.ID() || len(info.Addrs) == 0 {
		t.Fatalf("AddrInfo %v of node %s", info, boot.ID())
	}
	back, err := peer.AddrInfosFromP2pAddrs(boot.Addrs()...)
	if err != nil || len(back) != 1 || back[0].ID != boot.ID() || len(back[0].Addrs) != len(info.Addrs) {
		t.Fatalf("Addrs %v read back as %v, %v; want %v", boot.Addrs(), back, err, info)
	}

	dir := t.TempDir()
	m := testNode(t, boot, func(c *Config) { c.DataDir = dir })
	id := m.ID()
	m.Close()
	split := []peer.AddrInfo{{ID: info.ID, Addrs: info.Addrs[:1]}, {ID: info.ID, Addrs: info.Addrs}}
	cfg := Config{DataDir: dir, ListenAddrs: loopback(), BootstrapPeers: split}
	if got, err := cfg.bootstrap(); err != nil || len(got) != 1 || len(got[0].Addrs) != len(info.Addrs)+1 {
		t.Fatalf("bootstrap of %v: %v, %v; want one peer with its addresses merged", split, got, err)
	}
	again, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.ID() != id || !waitMember(ctx, again, boot.ID()) {
		t.Fatalf("restarted member %s (was %s) never met the bootstrap as a member", again.ID(), id)
	}
}
