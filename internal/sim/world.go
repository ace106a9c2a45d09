package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/p2pshare/p2pshare/internal/picker"
	"github.com/p2pshare/p2pshare/internal/upload"
)

func newWorld(c Class) *world {
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	n := int((c.FileSize + c.PieceSize - 1) / c.PieceSize)
	w := &world{c: c, n: n, rng: rng}
	for i := 0; i <= c.N; i++ {
		w.pids = append(w.pids, fmt.Sprintf("n%d", i))
	}
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	seed := &node{id: 0, up: c.SeedUp, pick: picker.New(n, all, rand.New(rand.NewPCG(c.Seed, 0))),
		queue: upload.NewQueue(64), super: upload.NewSuperSeed(n),
		doneAt: 0}
	if c.SeedBudget > 0 {
		seed.super.KeepRevealing()
	}
	w.nodes = append(w.nodes, seed)
	for i := 0; i < c.N; i++ {
		nd := &node{id: i + 1, up: c.Up[i], down: c.Down[i],
			pick:  picker.New(n, nil, rand.New(rand.NewPCG(c.Seed, uint64(i+2)))),
			queue: upload.NewQueue(64), doneAt: -1}
		if c.Leave != nil {
			nd.leaveAt = c.Leave[i]
		}
		// Open requests across all peers cover two seconds of download.
		if c.OutstandingSecs > 0 {
			nd.pick.SetMaxOutstanding(int(max(4, c.OutstandingSecs*c.Down[i]/float64(c.PieceSize))))
		}
		w.nodes = append(w.nodes, nd)
	}
	// The seeder links to everyone; each student to Degree random others.
	degree := c.Degree
	if degree == 0 {
		degree = picker.LinkTarget(n, picker.DefaultMaxLinks)
	}
	var links [][2]int
	for i := 1; i <= c.N; i++ {
		links = append(links, w.link(0, i))
	}
	for i := 1; i <= c.N; i++ {
		for k := 0; k < degree && len(w.nodes[i].links) < degree+1; k++ {
			j := 1 + rng.IntN(c.N)
			if j != i && !slices.Contains(w.nodes[i].links, j) {
				links = append(links, w.link(i, j))
			}
		}
	}
	links = w.deferJoins(links)
	w.showAll(links)
	w.indexHeard()
	for _, nd := range w.nodes {
		for k := range nd.links {
			w.requestAt(nd, k)
		}
	}
	return w
}

// indexHeard sets every node's heard, after links were made or dropped.
func (w *world) indexHeard() {
	for _, nd := range w.nodes {
		nd.heard = nd.heard[:0]
		if nd.gone {
			continue // its links dropped it
		}
		for _, j := range nd.links {
			o := w.nodes[j]
			ko := o.at(nd.id) // links go both ways
			nd.heard = append(nd.heard, hearer{pick: o.pick, ref: o.refs[ko], at: int32(ko), seeder: o.super != nil})
		}
	}
}

// link connects a and b, and returns the pair; showAll then has each
// learn what the other shows.
func (w *world) link(a, b int) [2]int {
	w.nodes[a].addLink(b)
	w.nodes[b].addLink(a)
	return [2]int{a, b}
}

// showAll has both ends of every link learn what the other shows: what
// each shows is worked out in the order the links were made (the
// seeder's reveals depend on it), and then each node's picker records its
// peers one node after the other, so that its records lie together in
// memory, which the periodic top-up of every link walks through.
func (w *world) showAll(links [][2]int) {
	shown := make([][][]bool, len(w.nodes)) // per node, per link: what that peer shows it
	for _, nd := range w.nodes {
		shown[nd.id] = make([][]bool, len(nd.links))
	}
	for _, l := range links {
		a, b := w.nodes[l[0]], w.nodes[l[1]]
		shown[b.id][b.at(a.id)] = w.shows(a, b)
		shown[a.id][a.at(b.id)] = w.shows(b, a)
	}
	for _, nd := range w.nodes {
		for k, j := range nd.links {
			nd.refs[k] = nd.pick.AddPeer(picker.Peer(w.pid(j)), shown[nd.id][k])
		}
	}
}

// addLink adds node j to nd's links, with a fresh pipeline and no picker
// record yet (showAll makes it).
func (nd *node) addLink(j int) {
	k, found := slices.BinarySearch(nd.links, j)
	if found {
		return
	}
	nd.links = slices.Insert(nd.links, k, j)
	nd.pipes = slices.Insert(nd.pipes, k, picker.Pipeline{})
	nd.refs = slices.Insert(nd.refs, k, picker.Ref{})
}

// dropLink takes node j out of nd's links.
func (nd *node) dropLink(j int) {
	if k := nd.at(j); k >= 0 {
		nd.links = slices.Delete(nd.links, k, k+1)
		nd.pipes = slices.Delete(nd.pipes, k, k+1)
		nd.refs = slices.Delete(nd.refs, k, k+1)
	}
}

// at is where node j is among nd's links, or -1.
func (nd *node) at(j int) int {
	if k, found := slices.BinarySearch(nd.links, j); found {
		return k
	}
	return -1
}

// shows is which pieces src shows dst: what it holds, through the reveal
// policy for the seeder; nil for none.
func (w *world) shows(src, dst *node) []bool {
	if src.super == nil && src.pick.Missing() == w.n {
		return nil
	}
	has := make([]bool, w.n)
	if src.super != nil && src.super.Active() {
		for _, i := range src.super.RevealFrom(upload.Peer(w.pid(dst.id)), dst.pick.Have, src.super.Window(w.c.N, revealWindow), w.budgetFilter()) {
			has[i] = true
		}
	} else {
		for i := range has {
			has[i] = src.pick.Have(i)
		}
	}
	return has
}

// sample updates every link's delivery rate and, with it, its pipeline.
func (w *world) sample(now time.Duration) {
	t := time.Unix(0, 0).Add(now)
	for _, nd := range w.nodes {
		for k := range nd.pipes {
			nd.pipes[k].Sample(t)
			if !nd.gone { // the linked node's hearer of nd has a stale depth
				w.nodes[nd.links[k]].heard[nd.heard[k].at].depth = 0
			}
		}
		for k := range nd.links {
			w.requestAt(nd, k)
		}
	}
}

// revealWindow is the fewest unheld pieces the seeder shows each peer at a
// time while it super-seeds (the real swarm's minimum too).
const revealWindow = 2

// requestMore tops up the requests nd keeps open to node to.
func (w *world) requestMore(nd *node, to int) {
	if k := nd.at(to); k >= 0 {
		w.requestAt(nd, k)
	}
}

// requestAt tops up the requests nd keeps open to its k-th link.
func (w *world) requestAt(nd *node, k int) {
	to := nd.links[k]
	if nd.gone || w.nodes[to].gone || nd.pick.Missing() == 0 {
		return
	}
	for _, i := range nd.pick.NextRef(nd.refs[k], w.depth(&nd.pipes[k])) {
		if err := w.nodes[to].queue.Add(upload.Peer(w.pid(nd.id)), i); err != nil {
			nd.pick.Failed(picker.Peer(w.pid(to)), i)
		}
	}
}

// depth is how many requests a link with pipeline p keeps open.
func (w *world) depth(p *picker.Pipeline) int {
	target := w.c.Target
	if target == 0 {
		target = time.Second
	}
	return p.Depth(w.c.PieceSize, target, 1, w.c.Depth)
}

// hearerAsks is requestAt for the node that hears of dst's pieces as
// dst.heard[k], from what the hearer holds: deliver calls it for each of
// some 80 of them per piece, and reaching into each one's node record and
// links would be a cache miss or two apiece. It asks the same as requestAt
// would: a hearer is linked, so neither it nor dst has left.
func (w *world) hearerAsks(dst *node, k int) {
	h := &dst.heard[k]
	if h.pick.Missing() == 0 {
		return
	}
	o := dst.links[k]
	if h.depth == 0 {
		h.depth = int32(w.depth(&w.nodes[o].pipes[h.at]))
	}
	for _, i := range h.pick.NextRef(h.ref, int(h.depth)) {
		if err := dst.queue.Add(upload.Peer(w.pid(o)), i); err != nil {
			h.pick.Failed(picker.Peer(w.pid(dst.id)), i)
		}
	}
}

func (w *world) finished() bool {
	for _, nd := range w.nodes[1:] {
		if !nd.gone && nd.doneAt < 0 {
			return false
		}
	}
	return true
}

func (w *world) leave(now time.Duration) {
	left := false
	for _, nd := range w.nodes[1:] {
		if nd.gone || nd.leaveAt <= 0 || now < nd.leaveAt {
			continue
		}
		nd.gone, left = true, true
		nd.active = nil
		for _, j := range nd.links {
			o := w.nodes[j]
			o.queue.RemovePeer(upload.Peer(w.pid(nd.id)))
			o.pick.RemovePeer(picker.Peer(w.pid(nd.id)))
			if o.super != nil {
				o.super.PeerGone(upload.Peer(w.pid(nd.id)), nd.pick.Have)
			}
			// Its connections are gone: what o was sending it stops.
			o.active = slices.DeleteFunc(o.active, func(f flow) bool { return f.to == nd.id })
			o.dropLink(nd.id)
			for k := range o.links {
				w.requestAt(o, k)
			}
		}
	}
	if left {
		w.indexHeard()
	}
	if seed := w.nodes[0]; left && w.c.SeedBudget > 0 {
		for _, k := range seed.links {
			w.revealMore(seed, w.nodes[k]) // what only the leavers held
			w.requestMore(w.nodes[k], seed.id)
		}
	}
}

// startUploads fills each node's upload slots from its queue. With Slots 0
// a node runs as few transfers as fill its upload, as the real swarm's
// uploaders do (they take turns for the upload cap's tokens, a piece at a
// time, and write to slow receivers meanwhile): one, and one more each step
// while the last step left upload unused.
func (w *world) startUploads() {
	for _, nd := range w.nodes {
		if nd.gone {
			continue
		}
		if w.c.Slots == 0 {
			if nd.queue.Len() > 0 && (len(nd.active) == 0 || nd.sent < nd.up*(1-1e-9)) {
				w.startOne(nd)
			}
			continue
		}
		for len(nd.active) < w.c.Slots && nd.queue.Len() > 0 {
			w.startOne(nd)
		}
	}
}

func (w *world) startOne(nd *node) {
	r, _ := nd.queue.Next()
	to := w.nodes[idOf(string(r.Peer))]
	nd.active = append(nd.active, flow{from: nd.id, to: to.id, piece: r.Piece, remaining: float64(w.pieceLen(r.Piece))})
}

func idOf(p string) int {
	n := 0
	for _, c := range p[1:] {
		n = n*10 + int(c-'0')
	}
	return n
}

func (w *world) pieceLen(i int) int64 {
	if i == w.n-1 {
		return w.c.FileSize - int64(i)*w.c.PieceSize
	}
	return w.c.PieceSize
}

// advance moves every transfer forward by dt seconds, at the rates
// fillScratch.share works out over flat copies of the transfers, and
// delivers those that end.
func (w *world) advance(dt float64) {
	nn := len(w.nodes)
	x := &w.fill
	if len(w.inRate) != nn {
		w.inRate = make([]float64, nn)
		*x = fillScratch{scaled: make([]float64, nn), factor: make([]float64, nn), room: make([]float64, nn),
			lo: make([]int32, nn+1), up: make([]float64, nn), down: make([]float64, nn)}
	}
	filled, lo := w.inRate, x.lo
	up, down := x.up, x.down
	to := x.to[:0]
	for i, nd := range w.nodes {
		up[i], down[i] = nd.up, nd.down
		lo[i] = int32(len(to))
		for k := range nd.active {
			to = append(to, int32(nd.active[k].to))
		}
	}
	lo[nn] = int32(len(to))
	rate := slices.Grow(x.rate[:0], len(to))[:len(to)] // share zeroes it
	x.to, x.rate = to, rate
	x.share(filled)
	var done []flow
	for i, nd := range w.nodes {
		nd.sent = 0
		for k := range nd.active {
			f := &nd.active[k]
			f.rate = rate[int(lo[i])+k]
			nd.sent += f.rate
			f.remaining -= f.rate * dt
			if f.remaining <= 0 {
				done = append(done, *f)
			}
		}
	}
	for _, f := range done {
		w.deliver(f)
	}
}

// deliver completes transfer f, unless it was cancelled meanwhile (it is no
// longer among its sender's).
func (w *world) deliver(f flow) {
	src, dst := w.nodes[f.from], w.nodes[f.to]
	if !w.stop(src, f.to, f.piece) {
		return
	}
	size := w.pieceLen(f.piece)
	src.uploaded += size
	dst.pipes[dst.at(src.id)].Delivered(size)
	first := !dst.pick.Have(f.piece)
	dst.gainedAt = w.now
	for _, c := range dst.pick.Got(picker.Peer(w.pid(src.id)), f.piece) {
		o := w.nodes[idOf(string(c))]
		if !o.queue.Cancel(upload.Peer(w.pid(dst.id)), f.piece) {
			w.stop(o, dst.id, f.piece)
		}
	}
	if first {
		// The news reaches the links in no set order, and each asks as
		// it hears: in the swarm the Haves cross separate connections.
		// All are told first, then they ask, in the same order: one
		// link's asking touches neither another's picker nor what it
		// is told, and telling a thousand pickers is mostly waiting on
		// memory, which a tight loop lets overlap.
		asking := w.asking[:0]
		for _, k := range w.rng.Perm(len(dst.links)) {
			h := &dst.heard[k]
			// As in the session, a peer that holds the piece is not
			// told (it has no use for the news); the seeder always is
			// (it counts holders on a budget) and never asks.
			if !h.seeder && h.pick.Have(f.piece) {
				continue
			}
			_ = h.pick.PeerHasRef(h.ref, f.piece)
			if !h.seeder {
				asking = append(asking, k)
			}
		}
		for _, k := range asking {
			w.hearerAsks(dst, k)
		}
		w.asking = asking
		if dst.pick.Missing() == 0 {
			dst.doneAt = w.now
		}
	}
	if src.super != nil {
		w.revealMore(src, dst)
	}
	// As the real session does: the link the piece came over has a free
	// slot now; the others are topped up on Have and on the periodic tick.
	w.requestMore(dst, src.id)
}

// budgetFilter is the session's: what the seeder may still reveal under
// Class.SeedBudget (nil: anything).
func (w *world) budgetFilter() func(int) bool {
	seed := w.nodes[0]
	return seed.super.BudgetFilter(seed.uploaded, int64(w.c.SeedBudget*float64(w.c.FileSize)), w.c.PieceSize,
		func(i int) bool { return seed.pick.Availability(i) > 0 })
}

// rescueStall is the session's: a student on a budgeted class that got no
// piece for this long is shown pieces regardless of the budget.
const rescueStall = 10 * time.Second

// rescueStalled is the session's rescueStalled on the virtual clock.
func (w *world) rescueStalled(now time.Duration) {
	seed := w.nodes[0]
	if w.budgetFilter() == nil {
		return
	}
	for _, j := range seed.links {
		nd := w.nodes[j]
		if nd.doneAt >= 0 || now-nd.gainedAt < rescueStall {
			continue
		}
		nd.gainedAt = now
		p := upload.Peer(w.pid(nd.id))
		shown := seed.super.Reveal(p, nd.pick.Have, revealWindow-seed.super.Outstanding(p, nd.pick.Have))
		for _, i := range shown {
			_ = nd.pick.PeerHas(picker.Peer(w.pid(seed.id)), i)
		}
		w.requestMore(nd, seed.id)
	}
}

// revealMore keeps Depth revealed-and-missing pieces in front of dst, or
// shows everything once the policy is done.
func (w *world) revealMore(seed, dst *node) {
	p := upload.Peer(w.pid(dst.id))
	if !seed.super.Active() {
		if !w.showedAll {
			w.showedAll = true
			for _, j := range seed.links {
				for i := 0; i < w.n; i++ {
					_ = w.nodes[j].pick.PeerHas(picker.Peer(w.pid(seed.id)), i)
				}
				w.requestMore(w.nodes[j], seed.id)
			}
		}
		return
	}
	owed := seed.super.Outstanding(p, dst.pick.Have)
	k := seed.super.Window(len(seed.links), revealWindow) - owed
	for _, i := range seed.super.RevealFrom(p, dst.pick.Have, k, w.budgetFilter()) {
		_ = dst.pick.PeerHas(picker.Peer(w.pid(seed.id)), i)
	}
}

// stop takes nd's transfer of piece to node to out of its transfers, and
// reports whether there was one.
func (w *world) stop(nd *node, to, piece int) bool {
	for k, g := range nd.active {
		if g.to == to && g.piece == piece {
			nd.active = slices.Delete(nd.active, k, k+1)
			return true
		}
	}
	return false
}
