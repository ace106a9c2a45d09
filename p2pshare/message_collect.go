package p2pshare

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/mailbox"
)

// collectEvery is how often a node looks for messages parked for it, at
// most (Config.Republish, if shorter).
const collectEvery = 30 * time.Second

// nearHolders is how many inbox holders a collection between full ones
// asks: the closest to the node's inbox key that the last full collection
// found. A sender parks a message on every one of the k closest it finds,
// so the closest few hold it unless its stores to them failed; the next
// full collection, or the holders' republish, covers that case.
const nearHolders = 3

// loop collects this node's parked messages now (a member admitted just
// now: at the first tick) and every collectEvery,
// and runs a republish round over the inboxes it holds every
// Config.Republish (each give or take a quarter, see spread). A full
// collection, which looks the inbox key up and asks all k holders, runs
// at the start and once per Config.Republish; the ones between ask the
// nearHolders closest holders alone. Asking all k
// every half minute connected every member to k others (in a class of 50,
// 40 % of it) twice a minute, and kept the class close to a full mesh.
func (m *messenger) loop() {
	s := m.s
	every := s.cfg.Republish
	if every == 0 {
		every = 10 * time.Minute
	}
	// A member admitted just now has a peer ID nobody could have written
	// to yet, so its first collection waits for the first tick: in a class
	// that joins at once, a lookup and k connections per student at start
	// was a large part of each student's CPU.
	var near []peer.ID
	if !s.net.admitted {
		near = m.collect(s.ctx, nil)
	}
	full, fullEvery := time.Now(), spread(every)
	collect := time.NewTicker(min(collectEvery, every))
	defer collect.Stop()
	round := time.NewTimer(spread(every))
	defer round.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-collect.C:
			if len(near) == 0 || now.Sub(full) >= fullEvery {
				near, full, fullEvery = m.collect(s.ctx, nil), now, spread(every)
			} else {
				m.collect(s.ctx, near)
			}
		case <-round.C:
			m.republish(s.ctx)
			round.Reset(spread(every))
		}
	}
}

// spread returns d give or take a quarter, at random: a class starts
// together, and its members' full collections and republish rounds, each
// a lookup or more, should not recur together every Config.Republish.
func spread(d time.Duration) time.Duration { return d - d/4 + rand.N(d/2+1) }

// collect fetches this node's messages from the nodes closest to its
// inbox (and from its own store, when it holds its own inbox) and
// delivers them; their copies are deleted when the program acknowledges
// them (those refused, or acknowledged before, at once). It asks holders,
// or, if holders is nil, looks the inbox key up and asks the k closest;
// it returns the nearHolders closest of those it asked. It asks them all
// at once, each request within holderWait of silence, and delivers what
// each sends as it arrives: a holder that never answers delays the
// collection by holderWait at most, and the messages of the others not
// at all. A holder hands a large inbox over in pages of
// mailbox.PageBytes, one request each.
func (m *messenger) collect(ctx context.Context, holders []peer.ID) []peer.ID {
	return m.collectWithin(ctx, holders, eachHolderWait)
}

// collectWithin is collect with each holder's time limit set by limit.
func (m *messenger) collectWithin(ctx context.Context, holders []peer.ID, limit holderLimit) []peer.ID {
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	s := m.s
	self := s.h.ID()
	m.box.Delete(self, m.deliverAll(m.box.Items(self), self))
	if holders == nil {
		lctx, cancel := context.WithTimeout(ctx, inboxLookupWait)
		holders, _ = s.dht.Closest(lctx, mailbox.Key(self))
		cancel()
	}
	var wg sync.WaitGroup
	for _, h := range holders {
		wg.Go(func() { m.collectFrom(ctx, h, limit) })
	}
	wg.Wait()
	return holders[:min(len(holders), nearHolders)]
}

// collectFrom takes this node's inbox from holder h, page by page, and
// deletes there what need not wait for an acknowledgement.
func (m *messenger) collectFrom(ctx context.Context, h peer.ID, limit holderLimit) {
	self := m.s.h.ID()
	var got, drop []mailbox.ItemID
	for {
		resp, err := m.askHolder(ctx, h, mailbox.Request{Op: mailbox.OpTake, Owner: self, IDs: got}, limit)
		if err != nil || !resp.OK {
			if err == nil {
				err = errors.New(resp.Error)
			}
			m.s.log.Debug("collecting parked messages", "holder", h, "err", err)
			break
		}
		for _, it := range resp.Items {
			got = append(got, mailbox.IDOf(it.Sealed))
		}
		drop = append(drop, m.deliverAll(resp.Items, h)...)
		if !resp.More || len(resp.Items) == 0 || len(got) >= mailbox.MaxPerInbox {
			break
		}
	}
	if len(drop) > 0 {
		_, _ = m.askHolder(ctx, h, mailbox.Request{Op: mailbox.OpDel, Owner: self, IDs: drop}, limit)
	}
}
