package p2pshare

import (
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// Where status reports go. With a coordinator group every coordinator
// serves the class view, and each must see the whole class: so a member
// reports to every coordinator it knows of, not to one that would pass the
// reports on. The bytes each coordinator takes in are the same either way
// (the whole class's reports, a few hundred bytes a member a second); a
// report that comes straight from its member is proven by the member's
// own connection, where a relayed one would be a coordinator's word; and
// when a coordinator dies the others already hold every member's line,
// with no hand-over and no gap. What it costs a member is a stream and a
// kept connection per coordinator: 3 or 5.
//
// A member learns the coordinators from a coordinator it reports to
// (protocolCoordinators), at once and then every coordinatorsEvery, so that
// one admitted through the bootstrap goes on reporting to the others when
// the bootstrap dies. A coordinator reports its own shares to the other
// coordinators, which it knows from its group's log.

// protocolCoordinators: a coordinator answers, on a stream a member opens,
// with the coordinators of its group and their addresses, as an appointMsg
// with only Coordinators set, then closes. It serves members only.
const protocolCoordinators protocol.ID = "/p2pshare/coord/list/1.0.0"

// How often a member asks for the coordinators: until it has heard once,
// every report; then every coordinatorsEvery.
const coordinatorsEvery = 30 * time.Second

// coordinatorTag protects a member's connections to the coordinators it
// reports to, as bootstrapTag does its bootstrap contacts'.
const coordinatorTag = "p2pshare-coordinator"

// reportTargets are the peers a node sends its status reports to: its
// bootstrap contacts, then the coordinators it learned, each once, itself
// never.
func reportTargets(self peer.ID, boot []peer.AddrInfo, learned []peer.ID) []peer.ID {
	var out []peer.ID
	add := func(p peer.ID) {
		if p != "" && p != self && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, ai := range boot {
		add(ai.ID)
	}
	for _, p := range learned {
		add(p)
	}
	return out
}

// coordinatorList is this coordinator's group as protocolCoordinators
// sends it: every coordinator, itself included, with the addresses this
// node knows.
func (s *Swarm) coordinatorList() []appointPeer {
	g := s.net.group
	if g == nil {
		return nil
	}
	var out []appointPeer
	for _, c := range g.Coordinators() {
		addrs := s.h.Peerstore().Addrs(c.Peer)
		if c.Peer == s.h.ID() {
			addrs = s.h.Addrs()
		}
		ap := appointPeer{ID: c.Peer}
		for _, a := range addrs {
			if len(ap.Addrs) < 16 {
				ap.Addrs = append(ap.Addrs, a.String())
			}
		}
		out = append(out, ap)
		if len(out) == 16 {
			break
		}
	}
	return out
}

// serveCoordinators is a coordinator's side of protocolCoordinators.
func (s *Swarm) serveCoordinators(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(statusTimeout))
	if err := writeAppoint(st, appointMsg{Coordinators: s.coordinatorList()}); err != nil {
		_ = st.Reset()
	}
}

// learnCoordinators is the group's coordinators other than this node: on
// a coordinator, from its own log; on a member, asked of the first of
// targets that serves protocolCoordinators. ok is false if no one could
// tell.
func (c *classStatus) learnCoordinators(targets []peer.ID) (ids []peer.ID, ok bool) {
	s := c.s
	if s.net.group != nil {
		for _, cp := range s.coordinatorList() {
			ids = append(ids, cp.ID)
		}
		return ids, true
	}
	for _, p := range targets {
		// A peer that did not say it serves the list (a bootstrap with no
		// group, or one not yet identified) is not asked.
		if ps, err := s.h.Peerstore().SupportsProtocols(p, protocolCoordinators); err != nil || len(ps) == 0 {
			continue
		}
		list, err := c.askCoordinators(p)
		if err != nil {
			s.log.Debug("asking for the coordinators", "peer", p, "err", err)
			continue
		}
		for _, cp := range list {
			if cp.ID == s.h.ID() {
				continue
			}
			for _, a := range cp.Addrs {
				if m, err := ma.NewMultiaddr(a); err == nil {
					s.h.Peerstore().AddAddr(cp.ID, m, peerstore.AddressTTL)
				}
			}
			ids = append(ids, cp.ID)
		}
		return ids, true
	}
	return nil, false
}

// askCoordinators asks p for its group's coordinators.
func (c *classStatus) askCoordinators(p peer.ID) ([]appointPeer, error) {
	ctx, cancel := context.WithTimeout(c.ctx, statusTimeout)
	defer cancel()
	st, err := c.s.h.NewStream(ctx, p, protocolCoordinators)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(statusTimeout))
	m, err := readAppoint(st)
	if err != nil {
		return nil, err
	}
	return m.Coordinators, nil
}
