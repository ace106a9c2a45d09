// Package replication keeps every DHT value record on the k nodes closest to
// its key, the layer the Kademlia paper describes and go-libp2p-kad-dht lacks:
// holders re-check their responsibility with a lookup every interval, re-store
// a key on those of its k closest nodes that lack it, hand it off and drop it
// when they are no longer among them, push keys to a newcomer that joins
// closer, and let records expire when their publisher stops refreshing them.
//
// The decisions (this file) do no I/O: they take the key, this node's ID and
// the peers a lookup or the routing table gave, and say what to keep, whom to
// store to and what to drop. The Replicator runs them on a kad-dht node.
// Distances are kad-dht's: XOR of the SHA-256 of the key and of the peer ID.
package replication

import (
	"slices"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Plan is what a holder of one key should do after a lookup of the key.
type Plan struct {
	// Keep is true when this node is among the k closest to the key.
	Keep bool
	// StoreTo lists the k closest peers (this node excluded) that lack the
	// key or hold a worse version, closest first.
	StoreTo []peer.ID
	// Drop is true when this node is not responsible: it hands the key to
	// StoreTo and deletes its copy once at least one store succeeded.
	Drop bool
}

// Closest returns the k peers of candidates closest to key, closest first,
// with duplicates removed. candidates is not modified.
func Closest(key string, candidates []peer.ID, k int) []peer.ID {
	seen := make(map[peer.ID]struct{}, len(candidates))
	uniq := make([]peer.ID, 0, len(candidates))
	for _, p := range candidates {
		if _, ok := seen[p]; ok || p == "" {
			continue
		}
		seen[p] = struct{}{}
		uniq = append(uniq, p)
	}
	sorted := kb.SortClosestPeers(uniq, kb.ConvertKey(key))
	if len(sorted) > k {
		sorted = sorted[:k]
	}
	return sorted
}

// Responsible reports whether self is among the k closest to key of self and
// the peers a lookup returned.
func Responsible(key string, self peer.ID, found []peer.ID, k int) bool {
	for _, p := range Closest(key, append([]peer.ID{self}, found...), k) {
		if p == self {
			return true
		}
	}
	return false
}

// Decide plans the republish of one key held by self: found are the peers a
// lookup of the key returned (self may or may not be among them), and has
// reports whether a peer already holds a version at least as good as self's.
// A nil has means nobody is known to hold it.
func Decide(key string, self peer.ID, found []peer.ID, k int, has func(peer.ID) bool) Plan {
	closest := Closest(key, append([]peer.ID{self}, found...), k)
	var plan Plan
	for _, p := range closest {
		if p == self {
			plan.Keep = true
			continue
		}
		if has == nil || !has(p) {
			plan.StoreTo = append(plan.StoreTo, p)
		}
	}
	plan.Drop = !plan.Keep
	return plan
}

// Targets returns the peers among the k closest to key (self excluded) that
// a plan must contact to learn whether they hold it: the candidates for
// Decide's has.
func Targets(key string, self peer.ID, found []peer.ID, k int) []peer.ID {
	var out []peer.ID
	for _, p := range Closest(key, append([]peer.ID{self}, found...), k) {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

// HandOffOnJoin reports whether a holder self should send key to newcomer,
// one of the peers fresh in its routing table beside the peers old it knew
// before: whether the newcomer is among the k closest to key of every node
// self now knows, and self is the closest to key of the nodes it knew
// before. The second rule is the Kademlia paper's: of the holders that learn
// of a newcomer, only the one closest to the key sends it, so a key reaches
// a newcomer once, not k times.
func HandOffOnJoin(key string, self, newcomer peer.ID, old, fresh []peer.ID, k int) bool {
	if newcomer == self {
		return false
	}
	cands := make([]peer.ID, 0, len(old)+len(fresh)+1)
	cands = append(cands, self)
	cands = append(cands, old...)
	if Closest(key, cands, 1)[0] != self {
		return false
	}
	cands = append(cands, fresh...)
	return slices.Contains(Closest(key, append(cands, newcomer), k), newcomer)
}

// NewPeers returns the peers of now that were not in before, in now's order:
// the newcomers a routing-table poll detects.
func NewPeers(before map[peer.ID]struct{}, now []peer.ID) []peer.ID {
	var out []peer.ID
	for _, p := range now {
		if _, ok := before[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// BucketIndex is the Kademlia bucket of p in self's routing table: the length
// of the common prefix of their kad-dht IDs.
func BucketIndex(self, p peer.ID) int {
	return kb.CommonPrefixLen(kb.ConvertPeerID(self), kb.ConvertPeerID(p))
}
