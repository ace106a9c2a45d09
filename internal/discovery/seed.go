package discovery

import (
	"context"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// seedTable asks the bootstrap peers this node is connected to for the
// members closest to it, one FIND_NODE each, and puts them in the routing
// table without connecting to them. A newcomer's table then holds more than
// its bootstrap from the moment it joins, so its lookups survive the
// bootstrap's loss, without the self-lookup that would connect it to a
// dozen members as it joins (the refresh does that later, spread out).
func (d *DHT) seedTable(ctx context.Context) {
	// The bootstrap is proven a member by the admission: its stream opens
	// at once, without waiting for identify.
	pm, err := pb.NewProtocolMessenger(checkedSender{open: func(ctx context.Context, p peer.ID) (network.Stream, error) {
		return ihost.OpenStream(ctx, d.h, p, dhtProtocol)
	}})
	if err != nil {
		return
	}
	added := 0
	for _, ai := range d.opts.Bootstrap {
		if ai.ID == d.h.ID() || d.h.Network().Connectedness(ai.ID) != network.Connected {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, seedTimeout)
		peers, err := pm.GetClosestPeers(qctx, ai.ID, d.h.ID())
		cancel()
		if err != nil {
			d.log.Debug("asking a bootstrap peer for members near this node", "peer", ai.ID, "err", err)
			continue
		}
		for _, p := range peers {
			if p.ID == d.h.ID() || len(p.Addrs) == 0 {
				continue
			}
			d.h.Peerstore().AddAddrs(p.ID, p.Addrs, peerstore.RecentlyConnectedAddrTTL)
			if ok, _ := d.d.RoutingTable().TryAddPeer(p.ID, false, true); ok {
				added++
			}
		}
	}
	d.log.Debug("routing table seeded from the bootstrap", "added", added)
}

// seedTimeout bounds the question to one bootstrap peer.
const seedTimeout = 3 * time.Second
