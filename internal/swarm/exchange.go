package swarm

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/picker"
	"github.com/p2pshare/p2pshare/internal/upload"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// peerHolds is what the picker knows peer p holds, as the upload policy
// asks it.
func (s *Session) peerHolds(p peer.ID) func(int) bool {
	return func(i int) bool { return s.picker.PeerHolds(picker.Peer(p), i) }
}

// minRevealWindow is the fewest pieces a super-seed keeps shown to a peer
// that the peer does not hold yet.
const minRevealWindow = 2

// revealMore keeps a window of unheld pieces shown to l's peer while the
// super-seed policy is active, and shows every piece to every peer once it
// is done. On an upload budget the policy is never done, and once what was
// sent and what is owed reach the budget only pieces the class cannot get
// elsewhere are shown.
func (s *Session) revealMore(l *link) {
	if s.super == nil {
		return
	}
	if !s.super.Active() {
		s.revealAll()
		return
	}
	p := upload.Peer(l.id)
	has := s.peerHolds(l.id)
	owed := s.super.Outstanding(p, has)
	w := s.super.Window(len(s.links), minRevealWindow)
	for _, i := range s.super.RevealFrom(p, has, w-owed, s.budgetFilter()) {
		l.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
	}
	if !s.super.Active() {
		s.revealAll()
	}
}

// rescueStall is how long a peer still fetching may go without getting a
// piece before a seeder on an upload budget shows it pieces regardless.
const rescueStall = 10 * time.Second

// rescueStalled, on an upload budget, shows a few pieces to each peer that
// has gained nothing for rescueStall, whatever the budget says: the pieces
// it lacks may be held only by peers that do not serve them (a member that
// announces pieces and then refuses, a laptop asleep with its link open)
// or owed to such a peer, and the budget must not strand anyone.
func (s *Session) rescueStalled(now time.Time) {
	if s.super == nil || s.gained == nil || s.budgetFilter() == nil {
		return
	}
	for id, l := range s.links {
		if now.Sub(s.gained[id]) < rescueStall || s.picker.PeerComplete(picker.Peer(id)) {
			continue
		}
		s.gained[id] = now // at most a window every rescueStall
		p := upload.Peer(id)
		has := s.peerHolds(id)
		shown := s.super.Reveal(p, has, minRevealWindow-s.super.Outstanding(p, has))
		if len(shown) > 0 {
			s.cfg.Log.Info("upload budget: showing pieces to a peer that got nothing for a while", "peer", id, "pieces", len(shown))
		}
		for _, i := range shown {
			l.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
		}
	}
}

// budgetFilter is what the super-seed may reveal under Config.UploadBudget
// (upload.SuperSeed.BudgetFilter): nil, anything, until what it sent and
// owes reach the budget.
func (s *Session) budgetFilter() func(int) bool {
	return s.super.BudgetFilter(s.up.Load(), s.cfg.UploadBudget, s.m.PieceSize, s.heldByPeer)
}

// heldByPeer reports whether some linked peer is known to hold piece i.
func (s *Session) heldByPeer(i int) bool { return s.picker.Availability(i) > 0 }

// revealAll ends super-seeding: every peer is told of every piece it was
// not shown.
func (s *Session) revealAll() {
	super := s.super
	s.super = nil
	for id, l := range s.links {
		for i := 0; i < s.m.NumPieces(); i++ {
			if !super.Revealed(upload.Peer(id), i) && !s.picker.PeerHolds(picker.Peer(id), i) {
				l.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
			}
		}
	}
}

// exchangePeers tells each linked peer about the other linked peers it has
// not been told of yet, so a class meshes within a round trip of reaching
// any member.
func (s *Session) exchangePeers() {
	if s.cfg.Addrs == nil || len(s.links) < 2 {
		return
	}
	for _, l := range s.links {
		s.tellPeers(l)
	}
}

// tellPeers tells l's peer about the linked peers it has not been told of
// yet: on every tick, and at once when its link comes up, so a member that
// reaches the seeder first hears of the class then, not a tick later.
func (s *Session) tellPeers(l *link) {
	if s.cfg.Addrs == nil {
		return
	}
	told := s.told[l.id]
	var list []wire.PeerEntry
	for other := range s.links {
		if other == l.id || told[other] || len(list) == wire.MaxPeerListLen ||
			(s.cfg.Member != nil && !s.cfg.Member(other)) {
			continue
		}
		e := wire.PeerEntry{ID: []byte(other)}
		for _, a := range s.cfg.Addrs(other) {
			if len(e.Addrs) == wire.MaxPeerAddrs {
				break
			}
			e.Addrs = append(e.Addrs, a.Bytes())
		}
		if len(e.Addrs) == 0 {
			continue
		}
		told[other] = true
		list = append(list, e)
	}
	if len(list) == 0 {
		return
	}
	b, err := wire.EncodePeers(list)
	if err != nil {
		return
	}
	l.send(wire.Msg{Type: wire.Peers, Data: b})
}

// A peer heard of through peer exchange is dialled again no sooner than
// redialAfter, and at most maxDialTries times while it does not come up as
// a link; the session remembers up to about maxDialed such peers.
const (
	redialAfter  = 10 * time.Second
	maxDialTries = 3
	maxDialed    = 4096
)

// dialPending is how long a dial counts toward the link target before it
// has come up as a link: about as long as a dial and handshake may take on
// a loaded machine.
const dialPending = 3 * time.Second

// Two members that hear of each other through peer exchange hear of it at
// about the same time: the member both are linked to tells each of the
// other. If both dialled, each pair would bring up two links, two
// connections and two handshakes, at the moment a class that starts
// together is busiest, and one of the two links would be dropped
// (addLink keeps the one the lower ID dialled). So the member with the
// lower ID dials at once and the other waits pexYield for that dial before
// it dials itself (the lower one may be at its link target, complete, or
// unable to reach it). Measured in S2 under tc (a class of 30 on two
// cores): with both dialling, the class brought up about 1,270 links in
// its first 6 s and dropped 420 of them, its machine 98-100 % busy; with a
// yield of 2 s, about 1,000 and 75-130 (a member that must dial most of
// the class dials 16 at a time on a busy machine, and some of its dials
// took longer); with 4 s, about 900 and 0-10, the mesh whole 5-7 s after
// the first spawn.
const pexYield = 4 * time.Second

// heardPeer is a peer learnt through peer exchange and not linked yet.
type heardPeer struct {
	ai     peer.AddrInfo
	since  time.Time // when a list first named it
	tries  int       // dials started
	dialed time.Time // the last one
}

// dialsFirst reports whether self, of the pair self and p, is the one
// that dials: the lower ID. A peer-exchange dial is left to it (yields),
// and of two links a pair brought up at once, the one it dialled is kept
// (addLink): one rule, so the link kept is the link the yield asked for.
func dialsFirst(self, p peer.ID) bool { return self < p }

// yields reports whether the session leaves the dial to h's peer to that
// peer for now (pexYield).
func (s *Session) yields(id peer.ID, h *heardPeer, now time.Time) bool {
	return h.tries == 0 && !dialsFirst(s.cfg.Self, id) && now.Sub(h.since) < pexYield
}

// learnPeers remembers the peers a peer list names and dials them, while
// the session misses pieces and has room for more links.
func (s *Session) learnPeers(list []wire.PeerEntry) {
	if s.cfg.Dial == nil || !s.Wanted() {
		return
	}
	now := time.Now()
	for _, e := range list {
		if len(s.heard) >= maxDialed {
			break
		}
		id, err := peer.IDFromBytes(e.ID)
		if err != nil || id == s.cfg.Self || s.links[id] != nil || s.Banned(id) {
			continue
		}
		h := s.heard[id]
		if h == nil {
			h = &heardPeer{since: now}
			s.heard[id] = h
		}
		h.ai = peer.AddrInfo{ID: id}
		for _, b := range e.Addrs {
			if a, err := ma.NewMultiaddrBytes(b); err == nil {
				h.ai.Addrs = append(h.ai.Addrs, a)
			}
		}
	}
	s.dialHeard(now)
}

// dialHeard dials peers heard of and not linked, up to the link target: at
// once when a list names them and again on each tick, so a dial the node
// had no room for, or one that failed, is not lost with the list that
// named the peer (each peer is told of each other peer once).
func (s *Session) dialHeard(now time.Time) {
	if s.cfg.Dial == nil || !s.Wanted() || len(s.links) >= s.target {
		return // at the target the heard set waits; learnPeers adds no linked peer
	}
	// Dials of the last few seconds that have not come up as links yet
	// count toward the target: a list names up to a whole class at once.
	pending := 0
	for id, h := range s.heard {
		switch {
		case s.links[id] != nil || s.Banned(id) || (h.tries >= maxDialTries && now.Sub(h.dialed) >= dialPending):
			delete(s.heard, id)
		case h.tries > 0 && now.Sub(h.dialed) < dialPending:
			pending++
		}
	}
	for id, h := range s.heard {
		if len(s.links)+pending >= s.target {
			return
		}
		if h.tries >= maxDialTries || (h.tries > 0 && now.Sub(h.dialed) < redialAfter) || s.yields(id, h, now) {
			continue
		}
		if !s.cfg.Dial(h.ai) {
			return // the node dials enough at once; the next tick goes on
		}
		h.tries++
		h.dialed = now
		pending++
	}
}
