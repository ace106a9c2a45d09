package p2pshare

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/message"
)

// maxUnacked is how many messages a node delivers ahead of the program's
// acknowledgements (and the room of the Messages channel, so a delivery
// never blocks).
const maxUnacked = 256

// pending is a message delivered and not yet acknowledged.
type pending struct {
	item    mailbox.ItemID       // of its sealed bytes, as holders name it
	holders map[peer.ID]struct{} // that handed it over: each holds a parked copy
	kept    bool                 // in the spool: it was handed over directly
}

// opened is a sealed message opened and verified.
type opened struct {
	sealed []byte
	msg    message.Message
	name   string // on the sender's member certificate
}

// origin is where a message came from: holder, the inbox holder that
// handed over a parked copy; neither, its sender directly; kept, the
// spool, when the node starts again.
type origin struct {
	holder peer.ID
	kept   bool
}

// open opens a sealed message for this node and checks that its sender is
// a member in good standing.
func (m *messenger) open(sealed []byte) (opened, error) {
	s := m.s
	msg, err := message.Open(s.key, sealed)
	if err != nil {
		return opened{}, err
	}
	mc, err := s.net.m.VerifyCert(msg.Cert, msg.From)
	if err != nil {
		return opened{}, fmt.Errorf("p2pshare: message from %s refused: %w", msg.From, err)
	}
	return opened{sealed: sealed, msg: msg, name: mc.Name}, nil
}

// openFresh is open for a message from the network: one sent longer ago
// than messages live, or in the future (message.CheckSent), is refused,
// since a replay of it may no longer be among the IDs seen.
func (m *messenger) openFresh(sealed []byte) (opened, error) {
	o, err := m.open(sealed)
	if err != nil {
		return o, err
	}
	if err := message.CheckSent(o.msg.Sent, m.now(), m.ttl); err != nil {
		return opened{}, fmt.Errorf("p2pshare: message %s from %s refused: %w", o.msg.ID, o.name, err)
	}
	return o, nil
}

// accept takes a message its sender handed over: it opens it, keeps it
// until the program acknowledges it, and delivers it unless it was
// delivered before. A duplicate is accepted but not delivered again.
func (m *messenger) accept(sealed []byte) error {
	o, err := m.openFresh(sealed)
	if err != nil {
		m.refused.Add(1)
		return err
	}
	_, err = m.queue(o, origin{})
	return err
}

// queue delivers o unless it is delivered and awaiting its
// acknowledgement already (then it notes from's copy too), or was
// acknowledged before: then it reports done, and the caller deletes the
// copy it came from. A message handed over directly is kept in the spool
// first: its sender is told it arrived and keeps no copy.
func (m *messenger) queue(o opened, from origin) (done bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	id := o.msg.ID
	if m.seen.has(id) {
		return true, nil
	}
	if p, ok := m.pending[id]; ok {
		if from.holder != "" {
			p.holders[from.holder] = struct{}{}
		}
		return false, nil
	}
	if len(m.pending) >= maxUnacked {
		return false, errInboxFull
	}
	p := &pending{item: mailbox.IDOf(o.sealed), holders: map[peer.ID]struct{}{}, kept: from.kept}
	switch {
	case from.holder != "":
		p.holders[from.holder] = struct{}{}
	case !from.kept:
		if err := m.spool.put(id, o.sealed); err != nil {
			return false, err
		}
		p.kept = true
	}
	m.pending[id] = p
	// Never blocks: the channel has room for every pending message.
	m.in <- Message{ID: id.String(), From: o.msg.From, FromName: o.name, Sent: o.msg.Sent, Body: o.msg.Body, m: m, id: id}
	return false, nil
}

// deliverAll delivers the messages of items, handed over by holder, oldest
// first, and returns the IDs of the copies to delete now: those refused,
// and those acknowledged before.
func (m *messenger) deliverAll(items []mailbox.Item, holder peer.ID) []mailbox.ItemID {
	var drop []mailbox.ItemID
	var ok []opened
	for _, it := range items {
		o, err := m.openFresh(it.Sealed)
		if err != nil {
			m.refused.Add(1)
			m.s.log.Warn("a parked message was refused", "err", err)
			drop = append(drop, mailbox.IDOf(it.Sealed))
			continue
		}
		ok = append(ok, o)
	}
	oldestFirst(ok)
	for _, o := range ok {
		if done, _ := m.queue(o, origin{holder: holder}); done {
			drop = append(drop, mailbox.IDOf(o.sealed))
		}
	}
	return drop
}

// oldestFirst sorts messages by when they were sent, then by ID.
func oldestFirst(list []opened) {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i].msg, list[j].msg
		if !a.Sent.Equal(b.Sent) {
			return a.Sent.Before(b.Sent)
		}
		return bytes.Compare(a.ID[:], b.ID[:]) < 0
	})
}

// redeliverKept delivers again the messages handed over directly that the
// program had not acknowledged when the node last stopped, oldest first.
func (m *messenger) redeliverKept() {
	var ok []opened
	for name, sealed := range m.spool.load(m.now(), m.ttl+seenMargin) {
		o, err := m.open(sealed)
		if err == nil && o.msg.ID.String() != name {
			err = fmt.Errorf("p2pshare: message %s kept as %s", o.msg.ID, name)
		}
		if err != nil {
			m.s.log.Warn("a kept message was dropped", "file", name, "err", err)
			m.spool.remove(name)
			continue
		}
		ok = append(ok, o)
	}
	oldestFirst(ok)
	for _, o := range ok {
		if done, _ := m.queue(o, origin{kept: true}); done {
			m.spool.remove(o.msg.ID.String())
		}
	}
}

// ack records id as handled, so it is never delivered again, and deletes
// its kept and parked copies: the spool's now, the holders' in the
// background (drain waits for them).
func (m *messenger) ack(id message.ID) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	p, ok := m.pending[id]
	if !ok {
		m.mu.Unlock()
		if m.seen.has(id) {
			return nil
		}
		return fmt.Errorf("p2pshare: message %s was not delivered by this node", id)
	}
	if _, err := m.seen.add(id, m.now().Add(m.ttl+seenMargin)); err != nil {
		m.mu.Unlock()
		return err
	}
	delete(m.pending, id)
	m.delivered.Add(1)
	if len(p.holders) > 0 {
		m.acks.Add(1)
	}
	m.mu.Unlock()
	if p.kept {
		m.spool.remove(id.String())
	}
	if len(p.holders) > 0 {
		go func() {
			defer m.acks.Done()
			m.unpark(p)
		}()
	}
	return nil
}

// unpark deletes the parked copies of an acknowledged message from the
// holders that handed it over. A copy left (a holder that did not answer,
// or one not asked) is deleted at a later collection, which finds it
// acknowledged, or expires.
func (m *messenger) unpark(p *pending) {
	self := m.s.h.ID()
	ids := []mailbox.ItemID{p.item}
	req := mailbox.Request{Op: mailbox.OpDel, Owner: self, IDs: ids}
	var wg sync.WaitGroup
	for h := range p.holders {
		if h == self {
			m.box.Delete(self, ids)
			continue
		}
		wg.Go(func() {
			resp, err := m.askHolder(m.s.ctx, h, req, eachHolderWait)
			if err == nil && !resp.OK {
				err = errors.New(resp.Error)
			}
			if err != nil {
				m.s.log.Debug("deleting an acknowledged message's parked copy", "holder", h, "err", err)
			}
		})
	}
	wg.Wait()
}
