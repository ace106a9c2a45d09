package p2pshare

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// The member directory maps each member's name to its certificate: a DHT
// record under memberKey(name), which a sender looks up to write to a member
// by name. Storing a record is a lookup of the nodes closest to its key and
// a store on each, and a student that stored its own entry as it joined
// connected to most of its class to do so: in a quiz to 50 processes from
// spawn that was more than half of every student's CPU (0.29 CPU-s each
// with it, 0.13 without) and 38 connections each instead of 9.
//
// So the bootstrap lists the members: it is connected to every member that
// joins or comes back, and each member it meets (its certificate checked
// by the credential exchange) it lists once per certificate, over
// connections it already has. A member that reached its bootstrap leaves
// its first store to it and only refreshes its entry later; one that did
// not stores it itself at once.

// listers is how many directory stores the bootstrap runs at once: a class
// joining together queues its entries, which go out in the seconds after,
// without crowding the admissions.
const listers = 4

// A store is a lookup and a store on each of the nodes closest to the key:
// dozens of requests across the class, each a stream a member answers and
// a certificate it checks. A class that joins together to fetch a quiz
// paid for its fifty entries while it fetched. So while members join
// together (joinBurst) the bootstrap holds its stores back until the joins
// have stopped for listQuiet, and then starts one every listGap at most; a
// member that joins alone is listed at once. In a quiz to 50 processes
// from spawn, the caps enforced by the kernel (fifteen alternate pairs):
// the last student done 3.5-5.2 s after spawn (median 4.7) instead of
// 4.1-7.9 (median 5.0), the bootstrap's CPU 0.43-0.71 s instead of
// 0.65-1.11.

// burstJoins admissions within burstWindow make a burst: a class joining
// together.
const (
	burstJoins  = 8
	burstWindow = time.Second
)

// listQuiet is how long after a burst's last admission the bootstrap waits
// before it lists; listMaxHold is the longest it holds a store back, so a
// class that never stops joining is still listed.
const (
	listQuiet   = 3 * time.Second
	listMaxHold = 30 * time.Second
)

// listGap is the least time between two stores' starts: a class's entries
// held back by a burst go out over seconds, not in a burst that meets the
// class's last fetches.
const listGap = 50 * time.Millisecond

// joinBurst tells whether members are joining together, from the times of
// their admissions. It does no I/O and reads no clock; it is not safe for
// concurrent use.
type joinBurst struct {
	recent   [burstJoins]time.Time // the last admissions, a ring
	next     int
	bursting bool
	began    time.Time // the burst's first admission
	last     time.Time // the burst's last admission
}

// admitted records an admission at now.
func (j *joinBurst) admitted(now time.Time) {
	j.recent[j.next] = now
	j.next = (j.next + 1) % burstJoins
	oldest := j.recent[j.next] // the first of the last burstJoins admissions, once there are that many
	if j.bursting && now.Sub(j.last) < listQuiet {
		j.last = now
		return
	}
	if !oldest.IsZero() && now.Sub(oldest) < burstWindow {
		j.bursting, j.began, j.last = true, oldest, now
		return
	}
	j.bursting = false
}

// hold is how long a store due at now waits: until listQuiet after the
// burst's last admission, at most until listMaxHold after the burst began;
// 0 when no burst is on.
func (j *joinBurst) hold(now time.Time) time.Duration {
	if !j.bursting {
		return 0
	}
	until := j.last.Add(listQuiet)
	if capped := j.began.Add(listMaxHold); capped.Before(until) {
		until = capped
	}
	if !now.Before(until) {
		return 0
	}
	return until.Sub(now)
}

// listTries is how often the bootstrap tries to store an entry.
const listTries = 3

// directory is the bootstrap's queue of members to list.
type directory struct {
	s      *Swarm
	mu     sync.Mutex
	listed map[string]bool // by certificate serial: queued or stored
	queue  []*membership.MemberCert
	burst  joinBurst // guarded by mu
	nextAt time.Time // guarded by mu: no store starts before (listGap)
	wake   chan struct{}
	stored atomic.Uint64 // entries stored (p2pshare_directory_listed_total)
}

// startDirectory makes the bootstrap list every member it meets, from now
// on and those it met already.
func (s *Swarm) startDirectory() {
	if s.net.boot == nil {
		return
	}
	d := &directory{s: s, listed: map[string]bool{}, wake: make(chan struct{}, 1)}
	s.dir = d
	admit := func(p peer.ID) {
		d.mu.Lock()
		d.burst.admitted(time.Now())
		d.mu.Unlock()
		d.add(p)
	}
	s.net.onAdmit.Store(&admit)
	for _, p := range s.net.m.Members() {
		d.add(p)
	}
	for range listers {
		go d.run()
	}
}

// add queues member p's entry unless its certificate was listed already.
func (d *directory) add(p peer.ID) {
	mc, ok := d.s.net.m.Member(p)
	if !ok || mc.Serial == nil {
		return
	}
	k := mc.Serial.Text(16)
	d.mu.Lock()
	if d.listed[k] {
		d.mu.Unlock()
		return
	}
	d.listed[k] = true
	d.queue = append(d.queue, mc)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *directory) next() *membership.MemberCert {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return nil
	}
	mc := d.queue[0]
	d.queue = d.queue[1:]
	if len(d.queue) > 0 {
		select {
		case d.wake <- struct{}{}: // another lister may start on the rest
		default:
		}
	}
	return mc
}

func (d *directory) run() {
	for {
		select {
		case <-d.s.ctx.Done():
			return
		case <-d.wake:
		}
		for mc := d.next(); mc != nil; mc = d.next() {
			if !d.awaitCalm() {
				return
			}
			d.list(mc)
		}
	}
}

// awaitCalm waits while a burst of joins holds the stores back, and listGap
// after the last store's start; false if the swarm closes first.
func (d *directory) awaitCalm() bool {
	for {
		d.mu.Lock()
		now := time.Now()
		wait := d.burst.hold(now)
		if wait == 0 {
			wait = d.nextAt.Sub(now)
		}
		if wait <= 0 {
			d.nextAt = now.Add(listGap)
			d.mu.Unlock()
			return true
		}
		d.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-d.s.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// list stores mc's entry, trying again after a failure.
func (d *directory) list(mc *membership.MemberCert) {
	s := d.s
	for try := 1; try <= listTries; try++ {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		err := s.dht.Put(ctx, memberKey(mc.Name), mc.DER, uint64(mc.NotBefore.Unix()))
		cancel()
		if err == nil {
			d.stored.Add(1)
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		s.log.Debug("listing a member in the directory", "name", mc.Name, "try", try, "err", err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(time.Duration(try) * 2 * time.Second):
		}
	}
}

// listSelf puts this member's directory entry out, then closes listed: at
// once by itself, unless it reached its bootstrap, which lists it; then it
// only refreshes the entry, the first time after about half the record's
// life. listSelf runs in the background: a store waited for in New would be
// paid by every student of a class that joins at once.
func (s *Swarm) listSelf(listed chan struct{}) {
	defer close(listed)
	own := s.net.m.Own()
	if own == nil {
		return
	}
	key, version := memberKey(own.Name), uint64(own.NotBefore.Unix())
	if s.net.boot == nil && s.reachedBootstrap() {
		ttl := s.dht.RecordTTL()
		s.dht.PublishLater(key, own.DER, version, ttl/4+rand.N(ttl/4))
		return
	}
	pctx, cancel := context.WithTimeout(s.ctx, directoryTimeout)
	defer cancel()
	if err := s.dht.Publish(pctx, key, own.DER, version); err != nil {
		s.log.Debug("publishing this member's directory entry", "err", err)
	}
}

// reachedBootstrap reports whether this member is connected to a contact it
// joined through that is a member: its bootstrap, which lists it.
func (s *Swarm) reachedBootstrap() bool {
	for _, ai := range s.net.joinVia {
		if s.h.Network().Connectedness(ai.ID) == network.Connected && s.net.m.IsMember(ai.ID) {
			return true
		}
	}
	return false
}
