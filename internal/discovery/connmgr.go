package discovery

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// routingRank is the value a routing-table peer's connection gets with the
// connection manager: kad-dht's own for the peers it does not protect
// (baseConnMgrScore), so that the DHT's peers outrank strangers when
// connections are trimmed.
const routingRank = 5

// rankOnly returns h as kad-dht sees it: its connection manager takes
// kad-dht's protections as tags of routingRank instead. kad-dht protects
// the connections of every routing-table peer in its two farthest buckets,
// about three peers in four, and a member's routing table holds the whole
// class: with them protected, every member kept a connection to nearly
// every other for as long as the class lasted. The routing table keeps a
// peer whose connection closed (kad-dht v0.42 forgets a peer only when it
// stops speaking the DHT, or fails a dial, a query or a refresh's liveness
// check), and a lookup dials it again; so the DHT ranks connections but
// pins none.
func rankOnly(h host.Host) host.Host {
	return rankedHost{Host: h, cm: rankingConnManager{h.ConnManager()}}
}

type rankedHost struct {
	host.Host
	cm rankingConnManager
}

func (h rankedHost) ConnManager() connmgr.ConnManager { return h.cm }

// rankingConnManager turns Protect into a tag; everything else goes to
// the host's connection manager.
type rankingConnManager struct{ connmgr.ConnManager }

func (c rankingConnManager) Protect(p peer.ID, tag string) { c.TagPeer(p, tag, routingRank) }

// Unprotect removes the tag and reports whether p stays protected by
// someone else's Protect.
func (c rankingConnManager) Unprotect(p peer.ID, tag string) bool {
	c.UntagPeer(p, tag)
	return c.IsProtected(p, "")
}
