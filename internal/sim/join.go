package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pshare/p2pshare/internal/picker"
)

// pendingLink is a link that forms once both its ends have joined.
type pendingLink struct {
	at   time.Duration
	a, b int
}

// joinSeed keeps the join order's random draws apart from the topology's,
// so a class with JoinRate 0 replays exactly as before joins were modelled.
const joinSeed = 0x701

// deferJoins sets each student's join time from Class.JoinRate and
// JoinLatency, takes out of links (already made) those whose ends are not
// both there at time 0, and keeps them in w.pending; it returns the links
// that stay.
func (w *world) deferJoins(links [][2]int) [][2]int {
	c := w.c
	if c.JoinRate <= 0 {
		return links
	}
	order := rand.New(rand.NewPCG(c.Seed, joinSeed)).Perm(c.N)
	for rank, i := range order {
		admitted := time.Duration(float64(rank+1) / c.JoinRate * float64(time.Second))
		w.nodes[i+1].joinAt = c.JoinLatency + admitted
	}
	live := links[:0]
	for _, l := range links {
		at := max(w.nodes[l[0]].joinAt, w.nodes[l[1]].joinAt)
		if at <= 0 {
			live = append(live, l)
			continue
		}
		w.nodes[l[0]].dropLink(l[1])
		w.nodes[l[1]].dropLink(l[0])
		w.pending = append(w.pending, pendingLink{at: at, a: l[0], b: l[1]})
	}
	// Links that form at the same time keep the order they were made in.
	slices.SortStableFunc(w.pending, func(x, y pendingLink) int { return int(x.at - y.at) })
	return live
}

// join forms the pending links whose ends have both joined by now: each end
// learns what the other shows, and asks for pieces.
func (w *world) join(now time.Duration) {
	k := 0
	for k < len(w.pending) && w.pending[k].at <= now {
		k++
	}
	if k == 0 {
		return
	}
	formed := slices.DeleteFunc(w.pending[:k], func(l pendingLink) bool {
		return w.nodes[l.a].gone || w.nodes[l.b].gone // left before it could form
	})
	w.pending = w.pending[k:]
	for _, l := range formed {
		w.link(l.a, l.b)
	}
	for _, l := range formed {
		a, b := w.nodes[l.a], w.nodes[l.b]
		ab, ba := w.shows(a, b), w.shows(b, a)
		b.refs[b.at(a.id)] = b.pick.AddPeer(picker.Peer(w.pid(a.id)), ab)
		a.refs[a.at(b.id)] = a.pick.AddPeer(picker.Peer(w.pid(b.id)), ba)
	}
	w.indexHeard()
	for _, l := range formed {
		w.requestMore(w.nodes[l.a], l.b)
		w.requestMore(w.nodes[l.b], l.a)
	}
}
