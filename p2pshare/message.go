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
)

// MaxMessageSize is the largest message body Send takes.
const MaxMessageSize = message.MaxBody

// ErrMessageTooLarge is returned by Send for a body over MaxMessageSize.
var ErrMessageTooLarge = errors.New("p2pshare: message too large")

// Message is a private message from another member, opened and verified:
// only this node could read it, it arrived unchanged, and From signed it
// with the key its member certificate binds.
//
// Messages are delivered at least once. A message stays where it waits
// (parked on the holders of this node's inbox or, if its sender handed it
// over directly, in Config.DataDir) until the program calls Ack. One taken
// from Messages and not acknowledged is not delivered again while the node
// runs, but is again when the node next starts with the same DataDir; one
// acknowledged is never delivered again. A message whose Sent is more than
// MessageTTL plus an hour before this node's clock, or more than an hour
// after it, is refused: a replay of it might no longer be told apart.
type Message struct {
	ID       string    // unique per message; a replay carries the same ID and is not delivered again once acknowledged
	From     PeerID    // the sender's peer ID
	FromName string    // the name on the sender's member certificate
	Sent     time.Time // as the sender's clock read it
	Body     []byte

	m  *messenger // that delivered it; nil for a Message made elsewhere
	id message.ID
}

// Ack records that the program has handled the message (shown it, stored
// it): it is not delivered again, across restarts too, and its parked
// copies are deleted. Call it once the message is safe; a second Ack does
// nothing. If Ack fails (the record could not be written, or the node is
// closed), the message is delivered again on the node's next start.
func (msg Message) Ack() error {
	if msg.m == nil {
		return errors.New("p2pshare: Ack of a message that did not come from Messages")
	}
	return msg.m.ack(msg.id)
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

// errInboxFull: maxUnacked messages wait for the program's
// acknowledgement; a new one stays parked, or its sender parks it.
var errInboxFull = errors.New("p2pshare: the recipient's message queue is full")

// messenger is a node's private-message service: its inbox channel, the
// IDs already acknowledged, the messages delivered and not yet
// acknowledged, and the messages it holds for offline members.
type messenger struct {
	s     *Swarm
	in    chan Message
	seen  *seenIDs
	spool *spool
	box   *mailbox.Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	pending map[message.ID]*pending // delivered, not acknowledged
	closed  bool                    // no more deliveries or acknowledgements
	acks    sync.WaitGroup          // deletions of acknowledged messages' copies

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
	now := s.cfg.now
	if now == nil {
		now = time.Now
	}
	seen, err := openSeen(s.cfg.DataDir, now())
	if err != nil {
		return err
	}
	sp, err := openSpool(s.cfg.DataDir)
	if err != nil {
		seen.close()
		return err
	}
	m := &messenger{
		s: s, in: make(chan Message, maxUnacked), seen: seen, spool: sp, ttl: ttl, now: now,
		pending: map[message.ID]*pending{},
	}
	box, kept, err := mailbox.OpenStore(context.Background(), s.store.mailbox, now(), m.checkKept(now()))
	if err != nil {
		seen.close()
		return fmt.Errorf("p2pshare: the messages kept for offline members in %s: %w", s.store.where, err)
	}
	if kept.Items+kept.Dropped > 0 {
		s.log.Debug("messages kept for offline members from the last run", "kept", kept.Items, "dropped", kept.Dropped)
	}
	m.box = box
	s.msg = m
	g := s.net.m.Guard(s.h)
	g.SetStreamHandler(msgProto, m.handleDirect)
	g.SetStreamHandler(mailbox.Protocol, m.handleInbox)
	return nil
}

// startMessages delivers again the messages handed over directly and not
// acknowledged before the node last stopped, puts this member's directory
// entry out (listSelf, in the background) and starts the collection loop.
// Close waits for the entry.
func (s *Swarm) startMessages() {
	m := s.msg
	m.redeliverKept()
	listed := make(chan struct{})
	m.listed.Store(&listed)
	go s.listSelf(listed)
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

// drain is the first half of closing: it waits for the directory entry,
// stops deliveries and acknowledgements, and waits for the parked copies
// of the messages acknowledged so far to be deleted (each holder within
// its time limit). What was delivered and not acknowledged stays kept.
func (m *messenger) drain() {
	m.awaitListed()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.acks.Wait()
}

// Messages returns the channel private messages to this node arrive on.
// Each arrives once while the node runs, and again on the node's next
// start until the program acknowledges it with Message.Ack. Parked
// messages are collected when the node starts and every half minute
// (from the few inbox holders closest to its inbox key; from all of them
// every Config.Republish), oldest first within what each holder hands
// over. At most 256 messages are delivered and not yet acknowledged at a
// time; further ones wait where they are parked (or their sender parks
// them) until the program acknowledges some.
func (s *Swarm) Messages() <-chan Message { return s.msg.in }

// Send sends body privately to the member to, named by its name or peer
// ID: signed by this node, readable by the recipient alone. An online
// recipient gets it directly (and keeps it until its program acknowledges
// it); for an offline one it is parked on the DHT nodes closest to the
// recipient's inbox for Config.MessageTTL, and the recipient collects it
// when it next comes online, even if this node has left by then. Send
// returns once the recipient or at least one inbox holder has it.
func (s *Swarm) Send(ctx context.Context, to string, body []byte) (Receipt, error) {
	if len(body) > MaxMessageSize {
		return Receipt{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(body), MaxMessageSize)
	}
	own := s.net.m.Own()
	if own == nil {
		return Receipt{}, errors.New("p2pshare: this node has no member certificate")
	}
	p, cert, err := s.resolveMember(ctx, to)
	if err != nil {
		return Receipt{}, err
	}
	if p == s.h.ID() {
		return Receipt{}, errors.New("p2pshare: a message to oneself")
	}
	sealed, id, err := message.Seal(s.key, own.DER, p, body, s.msg.now())
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
	n, perr := s.msg.park(ctx, p, cert, sealed)
	if n == 0 {
		return r, fmt.Errorf("p2pshare: %s is unreachable (%v) and no inbox holder took the message: %w", to, derr, perr)
	}
	r.Parked = n
	s.msg.sentParked.Add(1)
	return r, nil
}

// resolveMember turns a member's name or peer ID into its peer ID, and
// its member certificate when this node has it: a peer ID as it is, a
// name from the members this node has met, else from the DHT's member
// directory.
func (s *Swarm) resolveMember(ctx context.Context, to string) (peer.ID, []byte, error) {
	if p, err := peer.Decode(to); err == nil {
		if mc, ok := s.net.m.Member(p); ok {
			return p, mc.DER, nil
		}
		return p, nil, nil
	}
	for _, p := range s.net.m.Members() {
		if mc, ok := s.net.m.Member(p); ok && strings.EqualFold(mc.Name, to) {
			return p, mc.DER, nil
		}
	}
	if own := s.net.m.Own(); own != nil && strings.EqualFold(own.Name, to) {
		return s.h.ID(), own.DER, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	der, err := s.dht.GetValue(lctx, memberKey(to))
	if err != nil {
		return "", nil, fmt.Errorf("p2pshare: no member named %q is known (%v)", to, err)
	}
	mc, err := membership.ParseMemberCert(der)
	if err != nil {
		return "", nil, fmt.Errorf("p2pshare: the directory entry of %q: %w", to, err)
	}
	return mc.Peer, der, nil
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

// handleDirect takes a message from its sender (a member: the stream is
// guarded).
func (m *messenger) handleDirect(st network.Stream) {
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	b, err := mailbox.ReadFrame(st)
	if err != nil || len(b) > message.MaxSealed {
		st.Reset()
		return
	}
	r := mailbox.Response{OK: true}
	o, err := m.openFresh(b)
	if err != nil {
		m.refused.Add(1)
		r = mailbox.Response{Error: err.Error()} // a refusal: not worth parking
	} else if _, err := m.queue(o, origin{}); errors.Is(err, errInboxFull) {
		r = mailbox.Response{Error: err.Error()} // the sender parks it
	} else if err != nil {
		// Closing, or the message could not be kept: no answer, so the
		// sender parks it.
		m.s.log.Debug("taking a private message", "peer", st.Conn().RemotePeer(), "err", err)
		st.Reset()
		return
	}
	if err := respond(st, r); err != nil {
		// The sender sees no answer and parks the message, which this
		// node then collects as a copy of one it has.
		m.s.log.Debug("answering a private message", "peer", st.Conn().RemotePeer(), "err", err)
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

// Version is a directory entry's certificate NotBefore in Unix seconds
// (replication.Versioner), which its envelope must carry: nobody can make
// an older certificate win by sealing it with a bigger version.
func (v memberValidator) Version(_ string, der []byte) (uint64, error) {
	mc, err := membership.ParseMemberCert(der)
	if err != nil {
		return 0, err
	}
	if mc.NotBefore.Unix() < 0 {
		return 0, fmt.Errorf("p2pshare: the certificate of %q issued at %s, before 1970", mc.Name, mc.NotBefore)
	}
	return uint64(mc.NotBefore.Unix()), nil
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
