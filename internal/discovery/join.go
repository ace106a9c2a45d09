package discovery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
)

// dhtProtocol is the protocol kad-dht speaks under ProtocolPrefix.
const dhtProtocol = protocol.ID(ProtocolPrefix + "/kad/1.0.0")

// Join's retry timing. A join under CPU load once waited its whole 30 s
// for a routing table that one lost identify (or one failed liveness
// query) had left empty; it now tries again, sooner at first.
const (
	joinFirstWait = 250 * time.Millisecond // before the second attempt
	joinMaxWait   = 4 * time.Second        // the wait doubles up to this
	joinDialLimit = 10 * time.Second       // one attempt's dial of one peer
	joinPoll      = 20 * time.Millisecond  // how often a wait looks at the routing table
)

// PeerTry is what one join attempt saw of one bootstrap peer.
type PeerTry struct {
	Peer peer.ID
	Said string
}

// JoinAttempt is one try of Join and what each bootstrap peer said in it.
type JoinAttempt struct {
	N     int
	Peers []PeerTry
}

func (a JoinAttempt) said() string {
	parts := make([]string, len(a.Peers))
	for i, p := range a.Peers {
		parts[i] = p.Peer.String() + ": " + p.Said
	}
	return strings.Join(parts, "; ")
}

// JoinError is Join giving up: every attempt, and what each bootstrap peer
// said in each.
type JoinError struct {
	Attempts []JoinAttempt
	Elapsed  time.Duration
	Err      error // why it stopped: the context's error
}

func (e *JoinError) Unwrap() error { return e.Err }

// Error names how many attempts were made over how long, and what the
// bootstrap peers said, consecutive attempts that heard the same thing
// told once ("attempts 2-6: ...").
func (e *JoinError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discovery: no bootstrap peer entered the routing table in %d attempt", len(e.Attempts))
	if len(e.Attempts) != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " over %v (%v)", e.Elapsed.Round(10*time.Millisecond), e.Err)
	for i := 0; i < len(e.Attempts); {
		j := i + 1
		for j < len(e.Attempts) && e.Attempts[j].said() == e.Attempts[i].said() {
			j++
		}
		if j-i == 1 {
			fmt.Fprintf(&b, "; attempt %d: ", e.Attempts[i].N)
		} else {
			fmt.Fprintf(&b, "; attempts %d-%d: ", e.Attempts[i].N, e.Attempts[j-1].N)
		}
		b.WriteString(e.Attempts[i].said())
		i = j
	}
	return b.String()
}

// seen is what one attempt observed of a bootstrap peer before deciding
// what to do with it.
type seen struct {
	dialErr   error
	protocols []protocol.ID // what identify said it speaks; none: not identified
	allowed   bool          // Options.Filter admits it (or there is none)
}

// step is what an attempt does with a bootstrap peer.
type step int

const (
	stepAdd    step = iota // it speaks the DHT and may enter: add it to the routing table
	stepWait               // wait: for the dial to work, or the filter to admit it
	stepRedial             // identify gave no DHT protocol: the next timed attempt dials it afresh
)

// judge decides what to do with a bootstrap peer and says why, in words
// for JoinError.
func judge(s seen) (step, string) {
	switch {
	case s.dialErr != nil:
		// libp2p lists each address's failure on a line of its own.
		return stepWait, "dial failed: " + strings.Join(strings.Fields(s.dialErr.Error()), " ")
	case len(s.protocols) == 0:
		return stepRedial, "connected, but identify has not told its protocols"
	case !slices.Contains(s.protocols, dhtProtocol):
		ps := slices.Clone(s.protocols)
		slices.Sort(ps)
		return stepRedial, fmt.Sprintf("connected, but it speaks %v, not %s", ps, dhtProtocol)
	case !s.allowed:
		return stepWait, "speaks the DHT, but the routing-table filter refuses it (not a member, or not yet)"
	}
	return stepAdd, "in the routing table"
}

// joinWait is the wait after a timed attempt that follows one of wait:
// doubled, up to joinMaxWait.
func joinWait(wait time.Duration) time.Duration { return min(2*wait, joinMaxWait) }

// Join connects to the bootstrap peers and fills the routing table,
// trying again until ctx ends: each timed attempt dials the bootstrap
// peers again (afresh, where identify left no DHT protocol), re-checks
// what they speak and offers them to the routing table, waiting 250 ms
// before the second and twice as long each time after, up to 4 s; an
// identify report from a bootstrap peer starts an attempt at once. With
// no bootstrap peers it does nothing. Its error is a *JoinError.
func (d *DHT) Join(ctx context.Context) error {
	if len(d.opts.Bootstrap) == 0 {
		return nil
	}
	sub, err := d.h.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerIdentificationFailed),
		new(event.EvtPeerProtocolsUpdated),
	})
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	defer sub.Close()
	start := time.Now()
	var tries []JoinAttempt
	var stale map[peer.ID]bool // seen connected without the DHT last time
	wait, timed := joinFirstWait, true
	for n := 1; ; n++ {
		var redial map[peer.ID]bool
		if timed {
			redial = stale
		}
		a, next := d.tryJoin(ctx, n, redial)
		if d.d.RoutingTable().Size() > 0 {
			d.seedTable(ctx)
			d.joined(n)
			return nil
		}
		tries, stale = append(tries, a), next
		d.log.Debug("join attempt failed", "attempt", n, "peers", a.said(), "next_in", wait)
		drain(sub) // what arrived during the attempt, the attempt has seen
		var ok bool
		if timed, ok = d.awaitJoin(ctx, sub, jitter(wait)); !ok {
			if d.d.RoutingTable().Size() > 0 {
				d.seedTable(ctx)
				d.joined(n)
				return nil
			}
			return &JoinError{Attempts: tries, Elapsed: time.Since(start), Err: ctx.Err()}
		}
		if timed {
			wait = joinWait(wait)
		}
	}
}

// joined starts the background refreshes once the routing table has a
// peer. Looking ourselves up and refreshing asks and connects to a dozen
// or more members, which a newcomer's first fetch does not need (the
// bootstrap answers its first lookups), and which a class that joins at
// once would otherwise all pay before anyone's first piece.
func (d *DHT) joined(attempts int) {
	if attempts > 1 {
		d.log.Debug("joined", "attempts", attempts)
	}
	d.loops.Go(d.refreshLoop)
}

// tryJoin is one attempt: every bootstrap peer at once, those in redial
// disconnected first. It returns what each said, and which were seen
// connected without the DHT.
func (d *DHT) tryJoin(ctx context.Context, n int, redial map[peer.ID]bool) (JoinAttempt, map[peer.ID]bool) {
	a := JoinAttempt{N: n, Peers: make([]PeerTry, len(d.opts.Bootstrap))}
	steps := make([]step, len(d.opts.Bootstrap))
	var wg sync.WaitGroup
	for i, ai := range d.opts.Bootstrap {
		wg.Go(func() {
			steps[i], a.Peers[i] = d.tryPeer(ctx, ai, redial[ai.ID])
		})
	}
	wg.Wait()
	next := map[peer.ID]bool{}
	for i, s := range steps {
		if s == stepRedial {
			next[a.Peers[i].Peer] = true
		}
	}
	return a, next
}

// tryPeer connects to one bootstrap peer (afresh if redial), judges it and
// offers it to the routing table if it may enter.
func (d *DHT) tryPeer(ctx context.Context, ai peer.AddrInfo, redial bool) (step, PeerTry) {
	nw := d.h.Network()
	if redial && nw.Connectedness(ai.ID) == network.Connected {
		_ = nw.ClosePeer(ai.ID) // a new connection runs identify again
	}
	// Join keeps its own pace of retries; the swarm's would refuse a
	// dial for a while after a failed one.
	if sw, ok := nw.(interface{ Backoff() *swarm.DialBackoff }); ok {
		sw.Backoff().Clear(ai.ID)
	}
	dctx, cancel := context.WithTimeout(ctx, joinDialLimit)
	err := d.h.Connect(dctx, ai)
	cancel()
	s := seen{dialErr: err}
	if err == nil {
		s.protocols, _ = d.h.Peerstore().GetProtocols(ai.ID)
		s.allowed = d.opts.Filter == nil || d.opts.Filter(ai.ID)
	}
	st, said := judge(s)
	if st == stepAdd {
		if _, err := d.d.RoutingTable().TryAddPeer(ai.ID, true, false); err != nil {
			st, said = stepWait, fmt.Sprintf("speaks the DHT, but the routing table refused it: %v", err)
		}
	}
	return st, PeerTry{Peer: ai.ID, Said: said}
}

// awaitJoin waits for the routing table to fill, an identify report from
// a bootstrap peer (timed false) or wait to pass (timed true). ok is false
// if ctx ended first.
func (d *DHT) awaitJoin(ctx context.Context, sub event.Subscription, wait time.Duration) (timed, ok bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	poll := time.NewTicker(joinPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, false
		case <-t.C:
			return true, true
		case <-poll.C:
			if d.d.RoutingTable().Size() > 0 {
				return false, true
			}
		case e := <-sub.Out():
			if d.isBootstrap(eventPeer(e)) {
				return false, true
			}
		}
	}
}

// drain discards the events waiting in sub.
func drain(sub event.Subscription) {
	for {
		select {
		case <-sub.Out():
		default:
			return
		}
	}
}

func eventPeer(e any) peer.ID {
	switch e := e.(type) {
	case event.EvtPeerIdentificationCompleted:
		return e.Peer
	case event.EvtPeerIdentificationFailed:
		return e.Peer
	case event.EvtPeerProtocolsUpdated:
		return e.Peer
	}
	return ""
}

func (d *DHT) isBootstrap(p peer.ID) bool {
	for _, ai := range d.opts.Bootstrap {
		if ai.ID == p {
			return true
		}
	}
	return false
}
