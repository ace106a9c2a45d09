// Package meshtest runs many kad-dht nodes in one process on go-libp2p's
// in-memory network (p2p/net/mock): real libp2p hosts, identify and DHT code,
// with no sockets, so a test or benchmark can carry a thousand nodes.
package meshtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// Node is one DHT node of a Net.
type Node struct {
	Host  host.Host
	DHT   *dht.IpfsDHT
	Store ds.Batching // the DHT's datastore
	Dead  bool
}

// Net is a set of DHT nodes on one mocknet. Its methods are not safe for
// concurrent use.
type Net struct {
	MN    mocknet.Mocknet
	Nodes []*Node
	opts  []dht.Option
}

// New returns an empty Net whose nodes run kad-dht with p2pshare's private
// prefix in server mode, validator v under namespace ns, and extra options.
func New(ns string, v record.Validator, extra ...dht.Option) *Net {
	opts := []dht.Option{
		dht.ProtocolPrefix("/p2pshare"),
		dht.Mode(dht.ModeServer),
		dht.NamespacedValidator(ns, v),
	}
	return &Net{MN: mocknet.New(), opts: append(opts, extra...)}
}

// Add starts n nodes, links each to every node of the Net, and returns them.
// They are not connected to anyone yet.
func (m *Net) Add(n int) ([]*Node, error) {
	var out []*Node
	for range n {
		h, err := m.MN.GenPeer()
		if err != nil {
			return out, err
		}
		for _, o := range m.Nodes {
			if o.Dead {
				continue // a killed node's cable stays pulled
			}
			if _, err := m.MN.LinkPeers(h.ID(), o.Host.ID()); err != nil {
				return out, err
			}
		}
		store := dssync.MutexWrap(ds.NewMapDatastore())
		d, err := dht.New(h, append([]dht.Option{dht.Datastore(store)}, m.opts...)...)
		if err != nil {
			return out, fmt.Errorf("meshtest: %w", err)
		}
		nd := &Node{Host: h, DHT: d, Store: store}
		m.Nodes = append(m.Nodes, nd)
		out = append(out, nd)
	}
	return out, nil
}

// Join connects nd to boot and runs a newcomer's join: wait until boot is in
// the routing table, look up its own ID, then refresh every bucket (kad-dht
// looks up a random ID in each bucket's range).
func Join(ctx context.Context, nd, bootNode *Node) error {
	boot := bootNode.Host.ID()
	if err := nd.Host.Connect(ctx, peer.AddrInfo{ID: boot, Addrs: bootNode.Host.Addrs()}); err != nil {
		return err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for nd.DHT.RoutingTable().Find(boot) == "" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("meshtest: %s never added its bootstrap peer: %w", nd.Host.ID(), ctx.Err())
		case <-t.C:
		}
	}
	if _, err := nd.DHT.GetClosestPeers(ctx, string(nd.Host.ID())); err != nil {
		return err
	}
	select {
	case err := <-nd.DHT.ForceRefresh():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// JoinAll joins nodes through boot, par at a time.
func JoinAll(ctx context.Context, nodes []*Node, boot *Node, par int) error {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, nd := range nodes {
		if nd == boot {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := Join(ctx, nd, boot); err != nil {
				mu.Lock()
				first = fmt.Errorf("meshtest: join %s: %w", nd.Host.ID(), err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// Kill stops nd abruptly: it is unlinked from every node, as if its cable
// were pulled, and its DHT and host close with no goodbye to anyone. (A
// closed mocknet host alone still accepts streams: the links outlive it.)
func (m *Net) Kill(nd *Node) {
	nd.Dead = true
	for _, o := range m.Nodes {
		if o != nd {
			_ = m.MN.UnlinkPeers(nd.Host.ID(), o.Host.ID())
			_ = m.MN.DisconnectPeers(nd.Host.ID(), o.Host.ID())
		}
	}
	_ = nd.DHT.Close()
	_ = nd.Host.Close()
}

// Live returns the nodes not killed.
func (m *Net) Live() []*Node {
	var out []*Node
	for _, nd := range m.Nodes {
		if !nd.Dead {
			out = append(out, nd)
		}
	}
	return out
}

// Close stops every node.
func (m *Net) Close() {
	for _, nd := range m.Live() {
		m.Kill(nd)
	}
	_ = m.MN.Close()
}
