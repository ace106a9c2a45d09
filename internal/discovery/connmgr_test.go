package discovery

import "testing"

// TestRoutingTablePinsNoConnection checks that kad-dht's routing table
// ranks its peers' connections with the connection manager but protects
// none: kad-dht protects the peers of its two farthest buckets, three in
// four of a class, which kept members connected to most of the class.
func TestRoutingTablePinsNoConnection(t *testing.T) {
	nodes := startNodes(t, 6, Options{Replicas: 3})
	for i, d := range nodes {
		cm := d.h.ConnManager()
		peers := d.d.RoutingTable().ListPeers()
		if len(peers) == 0 {
			t.Fatalf("node %d: empty routing table", i)
		}
		for _, p := range peers {
			if cm.IsProtected(p, "") {
				t.Errorf("node %d protects its routing-table peer %s", i, p.ShortString())
			}
			if info := cm.GetTagInfo(p); info != nil && info.Value < routingRank {
				t.Errorf("node %d ranks its routing-table peer %s at %d, want at least %d", i, p.ShortString(), info.Value, routingRank)
			}
		}
	}
}
