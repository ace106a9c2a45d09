package host

import (
	"crypto/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// TestKeepSetsTheWatermarks checks the connection manager a host gets: a
// member (Keep set) trims to Keep once it holds twice as many; a node
// without Keep, the bootstrap, keeps up to what MaxPeers sizes.
func TestKeepSetsTheWatermarks(t *testing.T) {
	for _, c := range []struct {
		name           string
		maxPeers, keep int
		low, high      int
	}{
		{"member", 0, 8, 8, 16},
		{"bootstrap", 0, 0, 1100, 1375},
		{"small MaxPeers caps Keep", 10, 8, 8, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			key, _, err := crypto.GenerateEd25519Key(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			h, err := New(Options{Key: key, MaxPeers: c.maxPeers, Keep: c.keep})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			cm, ok := h.ConnManager().(*connmgr.BasicConnMgr)
			if !ok {
				t.Fatalf("connection manager is a %T", h.ConnManager())
			}
			info := cm.GetInfo()
			if info.LowWater != c.low || info.HighWater != c.high || info.GracePeriod != TrimGrace {
				t.Errorf("low %d, high %d, grace %v; want %d, %d, %v", info.LowWater, info.HighWater, info.GracePeriod, c.low, c.high, TrimGrace)
			}
		})
	}
}
