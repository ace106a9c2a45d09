package membership

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// Defaults of the outsiders' budget (Config).
const (
	// DefaultOutsiderDeadline is how long a connected peer that is not a
	// member has to start proving that it is one: send its certificate
	// (every member does so at once), or, on the bootstrap, ask for
	// admission. One that has started has the rest of Deadline.
	DefaultOutsiderDeadline = 2 * time.Second
	// DefaultOutsidersPerIP is how many connections peers not yet proven
	// members may hold from one IP address at once. A newcomer asking the
	// bootstrap for admission leaves this count when it asks, so a class
	// behind one NAT address joins all at once; members leave it once
	// their certificate is checked.
	DefaultOutsidersPerIP = 128
	// DefaultOutsiderStreams is how many streams a peer not yet proven a
	// member may have waiting for its certificate at once; further ones
	// are reset.
	DefaultOutsiderStreams = 4
	// DefaultStreamRate and DefaultStreamBurst bound the streams one peer,
	// member or not, may open to the handlers that Allow screens. Opens
	// beyond them are reset; a peer that goes on opening them (another
	// DefaultStreamBurst refused, refilled at DefaultStreamRate/4) is
	// blocked for BlockFor. An honest member opens a few streams a second
	// at most.
	DefaultStreamRate  rate.Limit = 50
	DefaultStreamBurst int        = 200
)

// maxTracked bounds the per-peer and per-address state the budget keeps
// for peers it has not seen lately.
const maxTracked = 8192

// budget is what peers not yet proven members may hold on this node, and
// the pace at which any peer may open streams. It does no I/O, takes the
// time as an argument and is not safe for concurrent use: Membership
// calls it under its mutex.
type budget struct {
	perIP   int
	streams int
	rate    rate.Limit
	burst   int

	ips       map[string]int          // IP → outsiders' connections counted
	outsiders map[peer.ID]*outsider   // peers with a connection counted or a stream waiting
	opens     map[peer.ID]*openLimits // stream-open pace, every peer
}

type outsider struct {
	conns   map[string]string // connection ID → IP, counted in ips
	over    map[string]string // connection ID → IP, over its address's budget, not counted
	waiting int               // streams parked in Allow
	started bool              // sent its certificate, or asked for admission
}

type openLimits struct{ opens, refused *rate.Limiter }

func newBudget(perIP, streams int, r rate.Limit, burst int) budget {
	return budget{perIP: perIP, streams: streams, rate: r, burst: burst,
		ips: map[string]int{}, outsiders: map[peer.ID]*outsider{}, opens: map[peer.ID]*openLimits{}}
}

func (b *budget) outsider(p peer.ID) *outsider {
	o, ok := b.outsiders[p]
	if !ok {
		o = &outsider{conns: map[string]string{}, over: map[string]string{}}
		b.outsiders[p] = o
	}
	return o
}

// connect counts connection id from ip of p, not a member; false means ip
// is over its budget: the connection is not counted, and is to be closed
// (or, on the bootstrap, told to come back later if it asks for
// admission).
func (b *budget) connect(p peer.ID, id, ip string) bool {
	if b.ips[ip] >= b.perIP {
		if len(b.outsiders) < maxTracked {
			b.outsider(p).over[id] = ip
		}
		return false
	}
	b.ips[ip]++
	b.outsider(p).conns[id] = ip
	return true
}

// disconnect stops counting connection id of p.
func (b *budget) disconnect(p peer.ID, id string) {
	o, ok := b.outsiders[p]
	if !ok {
		return
	}
	if ip, ok := o.conns[id]; ok {
		b.uncount(ip)
		delete(o.conns, id)
	}
	delete(o.over, id)
	b.forgetIfIdle(p, o)
}

// overNow reports whether p, asking for admission, is over its address's
// budget: every connection of p that the budget knows came over it, and
// the address has no room yet. One whose address has room again is
// counted from now on, as if it had come now: in a class's rush from
// behind one address, those who connected while the places were taken
// ask once the earlier newcomers have asked, and so left the count.
func (b *budget) overNow(p peer.ID) bool {
	o, ok := b.outsiders[p]
	if !ok || len(o.over) == 0 || len(o.conns) > 0 {
		return false
	}
	for id, ip := range o.over {
		if b.ips[ip] < b.perIP {
			b.ips[ip]++
			o.conns[id] = ip
			delete(o.over, id)
			return false
		}
	}
	return true
}

// release stops counting p's connections against their addresses: p is a
// member now, or a newcomer asking for admission.
func (b *budget) release(p peer.ID) {
	o, ok := b.outsiders[p]
	if !ok {
		return
	}
	for id, ip := range o.conns {
		b.uncount(ip)
		delete(o.conns, id)
	}
	clear(o.over)
	b.forgetIfIdle(p, o)
}

// start records that p began to prove itself; its connections stay
// counted (a certificate sent slowly still holds one of its address's
// places).
func (b *budget) start(p peer.ID) {
	if o, ok := b.outsiders[p]; ok {
		o.started = true
	}
}

// startedOn reports whether p began to prove itself.
func (b *budget) startedOn(p peer.ID) bool {
	o, ok := b.outsiders[p]
	return ok && o.started
}

// park takes a place for a stream of p, not a member yet, to wait for its
// certificate; false means p has DefaultOutsiderStreams waiting already.
func (b *budget) park(p peer.ID) bool {
	o := b.outsider(p)
	if o.waiting >= b.streams {
		b.forgetIfIdle(p, o)
		return false
	}
	o.waiting++
	return true
}

// unpark gives back a place taken by park.
func (b *budget) unpark(p peer.ID) {
	o, ok := b.outsiders[p]
	if !ok {
		return
	}
	o.waiting--
	b.forgetIfIdle(p, o)
}

// open decides whether p may open one more stream at now: ok, or not; and
// block when p kept opening them past its refusals too.
func (b *budget) open(p peer.ID, now time.Time) (ok, block bool) {
	l, found := b.opens[p]
	if !found {
		if len(b.opens) >= maxTracked {
			clear(b.opens) // a flood of fresh IDs: each starts afresh
		}
		l = &openLimits{opens: rate.NewLimiter(b.rate, b.burst), refused: rate.NewLimiter(b.rate/4, b.burst)}
		b.opens[p] = l
	}
	if l.opens.AllowN(now, 1) {
		return true, false
	}
	return false, !l.refused.AllowN(now, 1)
}

func (b *budget) uncount(ip string) {
	if b.ips[ip]--; b.ips[ip] <= 0 {
		delete(b.ips, ip)
	}
}

func (b *budget) forgetIfIdle(p peer.ID, o *outsider) {
	if len(o.conns) == 0 && len(o.over) == 0 && o.waiting <= 0 {
		delete(b.outsiders, p)
	}
}

// failures is the failed admission attempts per source address: each
// address may fail burst times, then once every 1/rate. It does no I/O
// and is not safe for concurrent use.
type failures struct {
	rate  rate.Limit
	burst int
	addrs map[string]*rate.Limiter
}

func newFailures(r rate.Limit, burst int) *failures {
	return &failures{rate: r, burst: burst, addrs: map[string]*rate.Limiter{}}
}

// allow reports whether addr may try again at now, and if not, how long
// until it may.
func (f *failures) allow(addr string, now time.Time) (time.Duration, bool) {
	l, ok := f.addrs[addr]
	if !ok {
		return 0, true
	}
	t := l.TokensAt(now)
	if t >= 1 {
		return 0, true
	}
	return time.Duration((1 - t) / float64(f.rate) * float64(time.Second)), false
}

// fail counts a failed attempt from addr at now.
func (f *failures) fail(addr string, now time.Time) {
	l, ok := f.addrs[addr]
	if !ok {
		if len(f.addrs) >= maxTracked {
			for a, l := range f.addrs { // forget the addresses that are whole again
				if l.TokensAt(now) >= float64(f.burst) {
					delete(f.addrs, a)
				}
			}
			if len(f.addrs) >= maxTracked {
				clear(f.addrs)
			}
		}
		l = rate.NewLimiter(f.rate, f.burst)
		f.addrs[addr] = l
	}
	l.AllowN(now, 1)
}
