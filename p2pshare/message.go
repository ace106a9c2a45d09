package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/membership"
	"github.com/p2pshare/p2pshare/internal/message"
	"github.com/p2pshare/p2pshare/internal/replication"
)

// MaxMessageSize is the largest message body Send takes.
const MaxMessageSize = message.MaxBody

// ErrMessageTooLarge is returned by Send for a body over MaxMessageSize.
var ErrMessageTooLarge = errors.New("p2pshare: message too large")

// Message is a private message from another member, opened and verified:
// only this node could read it, it arrived unchanged, and From signed it
// with the key its member certificate binds.
type Message struct {
	ID       string    // unique per message; a replay carries the same ID and is not delivered again
	From     PeerID    // the sender's peer ID
	FromName string    // the name on the sender's member certificate
	Sent     time.Time // as the sender's clock read it
	Body     []byte
}

// Receipt says how Send delivered a message.
type Receipt struct {
	ID     string
	To     PeerID
	Direct bool // delivered to the recipient itself
	Parked int  // otherwise: inbox holders that took it for the offline recipient
}

// msgProto carries one sealed message to its online recipient.
const msgProto = protocol.ID("/p2pshare/msg/1.0.0")

// memberNS is the DHT namespace of the member directory: key
// /p2pshare-member/<name, lower case>, value the member's certificate, so a
// member can be written to by name while it is offline.
const memberNS = "p2pshare-member"

func memberKey(name string) string { return "/" + memberNS + "/" + strings.ToLower(name) }

// errInboxFull: the Messages channel is full; the message stays parked or
// the sender parks it.
var errInboxFull = errors.New("p2pshare: the recipient's message queue is full")

// messenger is a node's private-message service: its inbox channel, the
// IDs already delivered, and the messages it holds for offline members.
type messenger struct {
	s    *Swarm
	in   chan Message
	seen *seenIDs
	box  *mailbox.Store
	ttl  time.Duration

	collectMu sync.Mutex
	// listed closes once this member's first directory entry is out (or
	// could not be put out); Close waits for it. Nil before startMessages.
	listed atomic.Pointer[chan struct{}]

	// counters for the metrics
	delivered, refused, sentDirect, sentParked atomic.Uint64
}

// openMessages sets up this node's messaging and its protocol handlers;
// startMessages, once the node has joined, starts it.
func (s *Swarm) openMessages() error {
	ttl := s.cfg.MessageTTL
	if ttl == 0 {
		ttl = 7 * 24 * time.Hour
	}
	seen, err := openSeen(s.cfg.DataDir)
	if err != nil {
		return err
	}
	m := &messenger{s: s, in: make(chan Message, 256), seen: seen, box: mailbox.NewStore(), ttl: ttl}
	s.msg = m
	g := s.net.m.Guard(s.h)
	g.SetStreamHandler(msgProto, m.handleDirect)
	g.SetStreamHandler(mailbox.Protocol, m.handleInbox)
	return nil
}

// startMessages puts this member's directory entry out and starts the
// collection loop. The entry goes out in the background, so that New does
// not wait on a DHT store (in a class that joins at once, every such wait
// is paid by every student); Close waits for it, so a member that runs
// only briefly can still be written to by name afterwards.
func (s *Swarm) startMessages() {
	m := s.msg
	listed := make(chan struct{})
	m.listed.Store(&listed)
	go func() {
		defer close(listed)
		own := s.net.m.Own()
		if own == nil {
			return
		}
		pctx, cancel := context.WithTimeout(s.ctx, directoryTimeout)
		defer cancel()
		if err := s.dht.Publish(pctx, memberKey(own.Name), own.DER, uint64(own.NotBefore.Unix())); err != nil {
			s.log.Debug("publishing this member's directory entry", "err", err)
		}
	}()
	go m.loop()
}

// directoryTimeout bounds the first store of a member's directory entry.
const directoryTimeout = 5 * time.Second

// awaitListed waits, at most directoryTimeout, for the first directory
// entry to be out.
func (m *messenger) awaitListed() {
	listed := m.listed.Load()
	if listed == nil {
		return // never started: New failed before
	}
	t := time.NewTimer(directoryTimeout)
	defer t.Stop()
	select {
	case <-*listed:
	case <-t.C:
	}
}

// Messages returns the channel private messages to this node arrive on,
// each once. Parked messages are collected when the node starts and every
// half minute (from the few inbox holders closest to its inbox key; from
// all of them every Config.Republish); a message that finds the channel
// full waits where it was parked, or is parked by its sender.
func (s *Swarm) Messages() <-chan Message { return s.msg.in }

// Send sends body privately to the member to, named by its name or peer
// ID: signed by this node, readable by the recipient alone. An online
// recipient gets it directly; for an offline one it is parked on the DHT
// nodes closest to the recipient's inbox for Config.MessageTTL, and the
// recipient collects it when it next comes online, even if this node has
// left by then. Send returns once the recipient or at least one inbox
// holder has it.
func (s *Swarm) Send(ctx context.Context, to string, body []byte) (Receipt, error) {
	if len(body) > MaxMessageSize {
		return Receipt{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(body), MaxMessageSize)
	}
	own := s.net.m.Own()
	if own == nil {
		return Receipt{}, errors.New("p2pshare: this node has no member certificate")
	}
	p, err := s.resolveMember(ctx, to)
	if err != nil {
		return Receipt{}, err
	}
	if p == s.h.ID() {
		return Receipt{}, errors.New("p2pshare: a message to oneself")
	}
	sealed, id, err := message.Seal(s.key, own.DER, p, body, time.Now())
	if err != nil {
		return Receipt{}, fmt.Errorf("p2pshare: sealing a message to %s: %w", to, err)
	}
	r := Receipt{ID: id.String(), To: p}
	derr := s.msg.direct(ctx, p, sealed)
	if derr == nil {
		r.Direct = true
		s.msg.sentDirect.Add(1)
		return r, nil
	}
	var refused refusedError
	if errors.As(derr, &refused) {
		return r, fmt.Errorf("p2pshare: %s refused the message: %w", to, derr)
	}
	n, perr := s.msg.park(ctx, p, sealed)
	if n == 0 {
		return r, fmt.Errorf("p2pshare: %s is unreachable (%v) and no inbox holder took the message: %w", to, derr, perr)
	}
	r.Parked = n
	s.msg.sentParked.Add(1)
	return r, nil
}

// resolveMember turns a member's name or peer ID into its peer ID: a peer ID as
// it is, a name from the members this node has met, else from the DHT's
// member directory.
func (s *Swarm) resolveMember(ctx context.Context, to string) (peer.ID, error) {
	if p, err := peer.Decode(to); err == nil {
		return p, nil
	}
	for _, p := range s.net.m.Members() {
		if mc, ok := s.net.m.Member(p); ok && strings.EqualFold(mc.Name, to) {
			return p, nil
		}
	}
	if own := s.net.m.Own(); own != nil && strings.EqualFold(own.Name, to) {
		return s.h.ID(), nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	der, err := s.dht.GetValue(lctx, memberKey(to))
	if err != nil {
		return "", fmt.Errorf("p2pshare: no member named %q is known (%v)", to, err)
	}
	mc, err := membership.ParseMemberCert(der)
	if err != nil {
		return "", fmt.Errorf("p2pshare: the directory entry of %q: %w", to, err)
	}
	return mc.Peer, nil
}

// refusedError is a recipient's or holder's answer that it will not take
// a message; it is not worth parking what the recipient refused.
type refusedError struct{ reason string }

func (e refusedError) Error() string { return e.reason }

// direct hands sealed to p itself if p can be reached within a few seconds.
func (m *messenger) direct(ctx context.Context, p peer.ID, sealed []byte) error {
	s := m.s
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.h.Network().Connectedness(p) != network.Connected {
		if len(s.h.Peerstore().Addrs(p)) == 0 {
			ai, err := s.dht.FindPeer(dctx, p)
			if err != nil {
				return fmt.Errorf("finding %s: %w", p, err)
			}
			s.h.Peerstore().AddAddrs(p, ai.Addrs, time.Hour)
		}
		if err := s.h.Connect(dctx, peer.AddrInfo{ID: p}); err != nil {
			return err
		}
	}
	resp, err := m.request(dctx, p, msgProto, sealed)
	if err != nil {
		return err
	}
	if !resp.OK {
		if resp.Error == errInboxFull.Error() {
			return errInboxFull
		}
		return refusedError{resp.Error}
	}
	return nil
}

// request sends one frame to p on proto and reads the mailbox.Response.
func (m *messenger) request(ctx context.Context, p peer.ID, proto protocol.ID, frame []byte) (mailbox.Response, error) {
	st, err := m.s.h.NewStream(ctx, p, proto)
	if err != nil {
		return mailbox.Response{}, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	// A deadline alone does not end a read when ctx is cancelled first
	// (the node closing, or a holder given up on).
	defer context.AfterFunc(ctx, func() { st.Reset() })()
	if err := mailbox.WriteFrame(st, frame); err != nil {
		st.Reset()
		return mailbox.Response{}, err
	}
	_ = st.CloseWrite()
	b, err := mailbox.ReadFrame(st)
	if err != nil {
		st.Reset()
		return mailbox.Response{}, err
	}
	return mailbox.DecodeResponse(b)
}

func respond(st network.Stream, r mailbox.Response) {
	_ = mailbox.WriteFrame(st, r.Encode())
	_ = st.Close()
}

// handleDirect takes a message from its sender (a member: the stream is
// guarded).
func (m *messenger) handleDirect(st network.Stream) {
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	b, err := mailbox.ReadFrame(st)
	if err != nil || len(b) > message.MaxSealed {
		st.Reset()
		return
	}
	if err := m.accept(b); err != nil {
		respond(st, mailbox.Response{Error: err.Error()})
		return
	}
	respond(st, mailbox.Response{OK: true})
}

// accept opens a sealed message for this node, checks that its sender is
// a member in good standing, and delivers it unless it was delivered
// before. A duplicate is accepted (so its copies get deleted) but not
// delivered again.
func (m *messenger) accept(sealed []byte) error {
	err := m.open(sealed)
	if err != nil && !errors.Is(err, errInboxFull) {
		m.refused.Add(1)
	}
	return err
}

func (m *messenger) open(sealed []byte) error {
	s := m.s
	msg, err := message.Open(s.key, sealed)
	if err != nil {
		return err
	}
	mc, err := s.net.m.VerifyCert(msg.Cert, msg.From)
	if err != nil {
		return fmt.Errorf("p2pshare: message from %s refused: %w", msg.From, err)
	}
	fresh, err := m.seen.add(msg.ID, time.Now().Add(m.ttl+24*time.Hour))
	if err != nil {
		return err
	}
	if !fresh {
		return nil
	}
	select {
	case m.in <- Message{ID: msg.ID.String(), From: msg.From, FromName: mc.Name, Sent: msg.Sent, Body: msg.Body}:
		m.delivered.Add(1)
		return nil
	default:
		m.seen.forget(msg.ID)
		return errInboxFull
	}
}

// Time limits of the inbox protocol. A lookup of an inbox's holders has
// its own; each holder then has its own, from when it is asked, so one
// that accepted the stream and never answers holds up nothing but its
// own request: a collection or a park is done when every holder has
// answered or run out of time, not when the slowest's limit and the
// lookup's add up.
const (
	inboxLookupWait = 20 * time.Second
	holderWait      = 5 * time.Second
)

// holderDeadline bounds the request to one holder.
type holderDeadline func(ctx context.Context, holder peer.ID) (context.Context, context.CancelFunc)

// eachHolderWait gives every holder holderWait.
func eachHolderWait(ctx context.Context, _ peer.ID) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, holderWait)
}

// park stores sealed on the nodes closest to p's inbox and reports how
// many took it.
func (m *messenger) park(ctx context.Context, p peer.ID, sealed []byte) (int, error) {
	s := m.s
	key := mailbox.Key(p)
	lctx, cancel := context.WithTimeout(ctx, inboxLookupWait)
	defer cancel()
	found, err := s.dht.Closest(lctx, key)
	if len(found) == 0 {
		return 0, fmt.Errorf("looking up the inbox of %s: %v", p, err)
	}
	it := mailbox.Item{Sealed: sealed, Sender: s.h.ID(), Expiry: time.Now().Add(m.ttl).Truncate(time.Second)}
	n := 0
	if replication.Responsible(key, s.h.ID(), found, s.dht.Replicas()) {
		if ok, _ := m.box.Put(p, it, time.Now()); ok {
			n++
		}
	}
	got, errs := m.putAll(ctx, p, found, []mailbox.Item{it})
	return n + got, errs
}

// putAll parks items for owner on each of to, each within holderWait, and
// reports how many took all of them.
func (m *messenger) putAll(ctx context.Context, owner peer.ID, to []peer.ID, items []mailbox.Item) (int, error) {
	req := mailbox.Request{Op: mailbox.OpPut, Owner: owner, Items: items}.Encode()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	n := 0
	for _, h := range to {
		wg.Go(func() {
			hctx, cancel := eachHolderWait(ctx, h)
			defer cancel()
			resp, err := m.request(hctx, h, mailbox.Protocol, req)
			if err == nil && !resp.OK {
				err = errors.New(resp.Error)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", h, err))
				return
			}
			n++
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// handleInbox serves the inbox protocol to members: parking messages for
// anyone, and listing, handing over and deleting a member's messages for
// that member alone, as the key it proved in the connection's handshake
// shows (mailbox.Authorize).
func (m *messenger) handleInbox(st network.Stream) {
	remote := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	b, err := mailbox.ReadFrame(st)
	if err != nil {
		st.Reset()
		return
	}
	req, err := mailbox.DecodeRequest(b)
	if err != nil {
		respond(st, mailbox.Response{Error: err.Error()})
		return
	}
	if err := mailbox.Authorize(req, remote); err != nil {
		respond(st, mailbox.Response{Error: err.Error()})
		return
	}
	now := time.Now()
	switch req.Op {
	case mailbox.OpPut:
		var errs []error
		for _, it := range req.Items {
			if it.Sender == "" {
				it.Sender = remote
			}
			// Nobody parks for longer than this node keeps messages.
			if limit := now.Add(m.ttl); it.Expiry.After(limit) {
				it.Expiry = limit
			}
			if _, err := m.box.Put(req.Owner, it, now); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			respond(st, mailbox.Response{Error: err.Error()})
			return
		}
		respond(st, mailbox.Response{OK: true})
	case mailbox.OpHave:
		if len(req.IDs) == 0 {
			respond(st, mailbox.Response{OK: true, IDs: m.box.IDs(req.Owner)})
			return
		}
		respond(st, mailbox.Response{OK: true, IDs: m.box.Have(req.Owner, req.IDs)})
	case mailbox.OpDel:
		m.box.Delete(req.Owner, req.IDs)
		respond(st, mailbox.Response{OK: true})
	case mailbox.OpTake:
		respond(st, mailbox.Response{OK: true, Items: m.box.Items(req.Owner)})
	}
}

// republish re-checks every inbox this node holds, as the DHT's records
// are: look its key up, store the messages on those of the k closest that
// lack some, and hand the inbox off and drop it once this node is no
// longer among them.
func (m *messenger) republish(ctx context.Context) {
	s := m.s
	m.box.Expire(time.Now())
	k := s.dht.Replicas()
	for _, owner := range m.box.Owners() {
		if ctx.Err() != nil {
			return
		}
		key := mailbox.Key(owner)
		lctx, cancel := context.WithTimeout(ctx, inboxLookupWait)
		found, err := s.dht.Closest(lctx, key)
		cancel()
		if err != nil || len(found) == 0 {
			continue
		}
		items := m.box.Items(owner)
		ids := map[mailbox.ItemID]bool{}
		var list []mailbox.ItemID
		for _, it := range items {
			id := mailbox.IDOf(it.Sealed)
			ids[id] = true
			list = append(list, id)
		}
		// Only the owner may list its inbox; a holder asks about the IDs it holds.
		ask := mailbox.Request{Op: mailbox.OpHave, Owner: owner, IDs: list}.Encode()
		has := func(p peer.ID) bool {
			hctx, cancel := eachHolderWait(ctx, p)
			defer cancel()
			resp, err := m.request(hctx, p, mailbox.Protocol, ask)
			if err != nil || !resp.OK {
				return false
			}
			got := 0
			for _, id := range resp.IDs {
				if ids[id] {
					got++
				}
			}
			return got == len(ids)
		}
		plan := replication.Decide(key, s.h.ID(), found, k, has)
		stored, _ := m.putAll(ctx, owner, plan.StoreTo, items)
		if plan.Drop && (stored > 0 || len(plan.StoreTo) == 0) {
			m.box.Drop(owner)
		}
	}
}

// memberValidator accepts a directory entry only if it is a valid member
// certificate of this network, unrevoked, filed under its own name.
type memberValidator struct{ m *membership.Membership }

func (v memberValidator) Validate(key string, der []byte) error {
	mc, err := membership.ParseMemberCert(der)
	if err != nil {
		return err
	}
	if _, err := v.m.VerifyCert(der, mc.Peer); err != nil {
		return err
	}
	if key != memberKey(mc.Name) {
		return fmt.Errorf("p2pshare: the certificate of %q filed under %q", mc.Name, key)
	}
	return nil
}

// Select prefers the most recently issued certificate.
func (v memberValidator) Select(_ string, values [][]byte) (int, error) {
	best, bestT := 0, time.Time{}
	for i, der := range values {
		if mc, err := membership.ParseMemberCert(der); err == nil && mc.NotBefore.After(bestT) {
			best, bestT = i, mc.NotBefore
		}
	}
	return best, nil
}
