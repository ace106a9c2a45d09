package p2pshare

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/p2pshare/p2pshare/internal/mailbox"
)

// loop collects this node's parked messages now and every half minute,
// and runs a republish round over the inboxes it holds every
// Config.Republish.
func (m *messenger) loop() {
	s := m.s
	every := s.cfg.Republish
	if every == 0 {
		every = 10 * time.Minute
	}
	m.collect(s.ctx)
	collect := time.NewTicker(min(30*time.Second, every))
	defer collect.Stop()
	round := time.NewTicker(every)
	defer round.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-collect.C:
			m.collect(s.ctx)
		case <-round.C:
			m.republish(s.ctx)
		}
	}
}

// collect fetches this node's messages from the nodes closest to its
// inbox (and from its own store, when it holds its own inbox), delivers
// them, and deletes the copies of every message it delivered or refused.
func (m *messenger) collect(ctx context.Context) {
	m.collectMu.Lock()
	defer m.collectMu.Unlock()
	s := m.s
	self := s.h.ID()
	done := func(items []mailbox.Item) []mailbox.ItemID {
		var ids []mailbox.ItemID
		for _, it := range items {
			if err := m.accept(it.Sealed); errors.Is(err, errInboxFull) {
				continue
			} else if err != nil {
				s.log.Warn("a parked message was refused", "err", err)
			}
			ids = append(ids, mailbox.IDOf(it.Sealed))
		}
		return ids
	}
	m.box.Delete(self, done(m.box.Items(self)))
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	found, _ := s.dht.Closest(lctx, mailbox.Key(self))
	var wg sync.WaitGroup
	for _, h := range found {
		wg.Go(func() {
			resp, err := m.request(lctx, h, mailbox.Protocol, mailbox.Request{Op: mailbox.OpTake, Owner: self}.Encode())
			if err != nil || !resp.OK || len(resp.Items) == 0 {
				return
			}
			ids := done(resp.Items)
			if len(ids) > 0 {
				_, _ = m.request(lctx, h, mailbox.Protocol, mailbox.Request{Op: mailbox.OpDel, Owner: self, IDs: ids}.Encode())
			}
		})
	}
	wg.Wait()
}
