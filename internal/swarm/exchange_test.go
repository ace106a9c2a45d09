package swarm

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/wire"
)

func newPeerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// peerAbove returns a new peer ID above self: self leaves the dial to no
// such peer (pexYield).
func peerAbove(t *testing.T, self peer.ID) peer.ID {
	t.Helper()
	for {
		if id := newPeerID(t); id > self {
			return id
		}
	}
}

// peerBelow returns a new peer ID below self.
func peerBelow(t *testing.T, self peer.ID) peer.ID {
	t.Helper()
	for {
		if id := newPeerID(t); id < self {
			return id
		}
	}
}

// dialRecorder is a session's Dial that starts at most room dials, and
// remembers which.
type dialRecorder struct {
	room   int
	dialed []peer.ID
}

func (d *dialRecorder) dial(ai peer.AddrInfo) bool {
	if d.room == 0 {
		return false
	}
	d.room--
	d.dialed = append(d.dialed, ai.ID)
	return true
}

// exchangeSession is a fetching session with only what peer exchange uses.
func exchangeSession(t *testing.T, target int, d *dialRecorder) *Session {
	return &Session{
		cfg:      Config{Self: newPeerID(t), Dial: d.dial},
		target:   target,
		links:    map[peer.ID]*link{},
		heard:    map[peer.ID]*heardPeer{},
		banned:   map[peer.ID]bool{},
		penalty:  map[peer.ID]time.Time{},
		complete: make(chan struct{}),
	}
}

func peerList(t *testing.T, ids ...peer.ID) []wire.PeerEntry {
	a := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	var list []wire.PeerEntry
	for _, id := range ids {
		list = append(list, wire.PeerEntry{ID: []byte(id), Addrs: [][]byte{a.Bytes()}})
	}
	return list
}

// TestDialHeardRetriesDroppedDials: peers a list names while the node has
// no room to dial are dialled on a later tick, though no list names them
// again (each peer is told of each other once).
func TestDialHeardRetriesDroppedDials(t *testing.T) {
	d := &dialRecorder{room: 2}
	s := exchangeSession(t, 60, d)
	var ids []peer.ID
	for range 5 {
		ids = append(ids, peerAbove(t, s.cfg.Self))
	}
	s.learnPeers(peerList(t, append(ids, s.cfg.Self)...))
	if len(d.dialed) != 2 {
		t.Fatalf("dialled %d of 5 with room for 2", len(d.dialed))
	}
	d.room = 10
	s.dialHeard(time.Now())
	got := slices.Clone(d.dialed)
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("dialled %v after a tick, want each of %v once (and never itself)", got, want)
	}
}

// TestDialHeardTarget: dials of the last few seconds count toward the link
// target with the links up; a linked or banned peer is not dialled.
func TestDialHeardTarget(t *testing.T) {
	d := &dialRecorder{room: 100}
	s := exchangeSession(t, 4, d)
	linked, banned := newPeerID(t), newPeerID(t)
	s.links[linked] = &link{}
	s.banned[banned] = true
	var ids []peer.ID
	for range 6 {
		ids = append(ids, peerAbove(t, s.cfg.Self))
	}
	s.learnPeers(peerList(t, append([]peer.ID{linked, banned}, ids...)...))
	if len(d.dialed) != 3 || slices.Contains(d.dialed, linked) || slices.Contains(d.dialed, banned) {
		t.Fatalf("dialled %v; want 3 (a target of 4, one link up), neither the linked nor the banned peer", d.dialed)
	}
	// The three dials are pending: a tick soon after dials nobody.
	s.dialHeard(time.Now())
	if len(d.dialed) != 3 {
		t.Fatalf("a tick with three dials pending dialled %d in all", len(d.dialed))
	}
	// Once the links reach the target, nobody is dialled, even when the
	// failed dials are due again.
	for _, id := range d.dialed[:3] {
		s.links[id] = &link{}
	}
	s.dialHeard(time.Now().Add(2 * redialAfter))
	if len(d.dialed) != 3 {
		t.Fatalf("a session at its link target dialled %d in all, want 3", len(d.dialed))
	}
}

// TestDialHeardRedial: a dial that never came up as a link is tried again
// after redialAfter, not before, and given up after maxDialTries.
func TestDialHeardRedial(t *testing.T) {
	d := &dialRecorder{room: 100}
	s := exchangeSession(t, 60, d)
	p := peerAbove(t, s.cfg.Self)
	s.learnPeers(peerList(t, p))
	now := time.Now()
	s.dialHeard(now.Add(redialAfter / 2))
	if len(d.dialed) != 1 {
		t.Fatalf("redialled before redialAfter: %d dials", len(d.dialed))
	}
	for range maxDialTries {
		s.heard[p].dialed = now // as if the last try was now
		now = now.Add(redialAfter)
		s.dialHeard(now)
	}
	if len(d.dialed) != maxDialTries {
		t.Fatalf("dialled a peer that never came up %d times, want %d", len(d.dialed), maxDialTries)
	}
	if _, ok := s.heard[p]; ok {
		t.Fatal("a peer given up on is still remembered")
	}
}

// TestDialHeardYieldsToLowerID: of two members told of each other, the one
// with the lower ID dials at once; the other leaves the dial to it for
// pexYield, dials no sooner, and dials once that has passed with no link
// up. A peer that linked meanwhile is not dialled at all.
func TestDialHeardYieldsToLowerID(t *testing.T) {
	d := &dialRecorder{room: 100}
	s := exchangeSession(t, 60, d)
	above, below, linksFirst := peerAbove(t, s.cfg.Self), peerBelow(t, s.cfg.Self), peerBelow(t, s.cfg.Self)
	s.learnPeers(peerList(t, above, below, linksFirst))
	if !slices.Equal(d.dialed, []peer.ID{above}) {
		t.Fatalf("dialled %v at once; want only the peer above self", d.dialed)
	}
	heard := s.heard[below].since
	s.dialHeard(heard.Add(pexYield - time.Millisecond))
	if len(d.dialed) != 1 {
		t.Fatalf("dialled %v before pexYield passed", d.dialed[1:])
	}
	s.links[linksFirst] = &link{} // its dial came in
	s.dialHeard(heard.Add(pexYield))
	if !slices.Equal(d.dialed, []peer.ID{above, below}) {
		t.Fatalf("dialled %v once pexYield passed; want %v", d.dialed, []peer.ID{above, below})
	}
}
