package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/replication"
)

// Time limits of the inbox protocol. A lookup of an inbox's holders has
// its own; each holder then has its own, from when it is asked, so one
// that accepted the stream and never answers holds up nothing but its
// own request: a collection or a park is done when every holder has
// answered or run out of time, not when the slowest's limit and the
// lookup's add up. A holder's limit is on silence, not on the whole
// request: it has holderWait to send its first byte, and holderWait
// again after every bit it sends, so a large inbox over a slow link is
// still handed over while its bytes flow.
const (
	inboxLookupWait = 20 * time.Second
	holderWait      = 5 * time.Second
)

// holderLimit bounds one request to a holder: it returns the context to
// make it in, a function to call whenever bytes move to or from the
// holder, and the cancel to call when done.
type holderLimit func(ctx context.Context, holder peer.ID) (context.Context, func(), context.CancelFunc)

// eachHolderWait gives every holder holderWait of silence at most.
func eachHolderWait(ctx context.Context, _ peer.ID) (context.Context, func(), context.CancelFunc) {
	return idleLimit(ctx, holderWait)
}

// idleLimit returns a context that ends once limit passes without a call
// of the returned progress function (and when ctx ends).
func idleLimit(ctx context.Context, limit time.Duration) (context.Context, func(), context.CancelFunc) {
	ictx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(limit, func() { cancel(fmt.Errorf("no answer for %v", limit)) })
	return ictx, func() { t.Reset(limit) }, func() { t.Stop(); cancel(context.Canceled) }
}

// request sends one frame to p on proto and reads the mailbox.Response,
// within ctx.
func (m *messenger) request(ctx context.Context, p peer.ID, proto protocol.ID, frame []byte) (mailbox.Response, error) {
	return m.exchange(ctx, p, proto, frame, func() {})
}

// askHolder makes req of holder h within limit.
func (m *messenger) askHolder(ctx context.Context, h peer.ID, req mailbox.Request, limit holderLimit) (mailbox.Response, error) {
	hctx, progress, cancel := limit(ctx, h)
	defer cancel()
	return m.exchange(hctx, h, mailbox.Protocol, req.Encode(), progress)
}

// exchange is request, calling progress as bytes move.
func (m *messenger) exchange(ctx context.Context, p peer.ID, proto protocol.ID, frame []byte, progress func()) (resp mailbox.Response, err error) {
	defer func() {
		// Say why a request given up on ended, not just that its stream did.
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
	}()
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
	rw := progressRW{st: st, progress: progress}
	if err := mailbox.WriteFrame(rw, frame); err != nil {
		st.Reset()
		return mailbox.Response{}, err
	}
	if err := st.CloseWrite(); err != nil {
		st.Reset()
		return mailbox.Response{}, err
	}
	b, err := mailbox.ReadFrame(rw)
	if err != nil {
		st.Reset()
		return mailbox.Response{}, err
	}
	return mailbox.DecodeResponse(b)
}

// progressRW reads and writes a stream, calling progress whenever some
// bytes went through; it writes in chunks, so a large frame makes
// progress as it goes.
type progressRW struct {
	st       io.ReadWriter
	progress func()
}

const progressChunk = 64 << 10

func (p progressRW) Read(b []byte) (int, error) {
	n, err := p.st.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

func (p progressRW) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := p.st.Write(b[done:min(len(b), done+progressChunk)])
		done += n
		if n > 0 {
			p.progress()
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// respond writes r and closes st; on a write error it resets st, so the
// asker sees the failure rather than an answer cut short.
func respond(st network.Stream, r mailbox.Response) error {
	if err := mailbox.WriteFrame(st, r.Encode()); err != nil {
		st.Reset()
		return err
	}
	return st.Close()
}

// park stores sealed on the nodes closest to p's inbox and reports how
// many took it. cert is p's member certificate if the caller has it (a
// holder that has not met p asks for it); nil looks for one this node
// knows.
func (m *messenger) park(ctx context.Context, p peer.ID, cert, sealed []byte) (int, error) {
	s := m.s
	own := s.net.m.Own()
	if own == nil {
		return 0, errors.New("p2pshare: this node has no member certificate")
	}
	if cert == nil {
		cert = m.ownerCert(p)
	}
	it := mailbox.Item{Sealed: sealed, Expiry: time.Now().Add(m.ttl).Truncate(time.Second)}
	if err := mailbox.Sign(s.key, own.DER, p, &it); err != nil {
		return 0, err
	}
	key := mailbox.Key(p)
	lctx, cancel := context.WithTimeout(ctx, inboxLookupWait)
	defer cancel()
	found, err := s.dht.Closest(lctx, key)
	if len(found) == 0 {
		return 0, fmt.Errorf("looking up the inbox of %s: %v", p, err)
	}
	n := 0
	if replication.Responsible(key, s.h.ID(), found, s.dht.Replicas()) {
		if ok, _ := m.box.Put(p, it, time.Now()); ok {
			m.box.KeepCert(p, cert)
			n++
		}
	}
	got, errs := m.putAll(ctx, p, cert, found, []mailbox.Item{it})
	return n + got, errs
}

// ownerCert is the member certificate of owner this node has: from
// meeting it, or kept with its inbox; nil if neither.
func (m *messenger) ownerCert(owner peer.ID) []byte {
	if mc, ok := m.s.net.m.Member(owner); ok {
		return mc.DER
	}
	return m.box.Cert(owner)
}

// putAll parks items for owner on each of to, in requests of at most
// mailbox.PageBytes of items, and reports how many took all of them.
func (m *messenger) putAll(ctx context.Context, owner peer.ID, cert []byte, to []peer.ID, items []mailbox.Item) (int, error) {
	var reqs []mailbox.Request
	for _, batch := range mailbox.Batches(items, mailbox.PageBytes) {
		reqs = append(reqs, mailbox.Request{Op: mailbox.OpPut, Owner: owner, OwnerCert: cert, Items: batch})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	n := 0
	for _, h := range to {
		wg.Go(func() {
			var err error
			for _, req := range reqs {
				var resp mailbox.Response
				if resp, err = m.askHolder(ctx, h, req, eachHolderWait); err == nil && !resp.OK {
					err = errors.New(resp.Error)
				}
				if err != nil {
					break
				}
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
// members, and listing, handing over and deleting a member's messages for
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
	r := m.answer(remote, b)
	if err := respond(st, r); err != nil {
		// Nothing is lost: a holder deletes only what the owner asks it
		// to, and a sender or holder whose put was not answered counts it
		// as not taken.
		m.s.log.Debug("answering an inbox request", "peer", remote, "err", err)
	}
}

// answer decides the response to the inbox request b from remote.
func (m *messenger) answer(remote peer.ID, b []byte) mailbox.Response {
	req, err := mailbox.DecodeRequest(b)
	if err != nil {
		return mailbox.Response{Error: err.Error()}
	}
	if err := mailbox.Authorize(req, remote); err != nil {
		return mailbox.Response{Error: err.Error()}
	}
	switch req.Op {
	case mailbox.OpPut:
		if err := m.putChecked(req, time.Now()); err != nil {
			return mailbox.Response{Error: err.Error()}
		}
		return mailbox.Response{OK: true}
	case mailbox.OpHave:
		if len(req.IDs) == 0 {
			return mailbox.Response{OK: true, IDs: m.box.IDs(req.Owner)}
		}
		return mailbox.Response{OK: true, IDs: m.box.Have(req.Owner, req.IDs)}
	case mailbox.OpDel:
		m.box.Delete(req.Owner, req.IDs)
		return mailbox.Response{OK: true}
	default: // mailbox.OpTake
		page, more := m.box.Page(req.Owner, req.IDs, mailbox.PageBytes)
		return mailbox.Response{OK: true, More: more, Items: page}
	}
}

// putChecked parks req's items if their owner is a member and each item
// is signed by a member, its Sender, whose quota it is charged to: the
// peer that hands it over (the sender, or a holder passing the inbox on)
// is not trusted to say who sent it.
func (m *messenger) putChecked(req mailbox.Request, now time.Time) error {
	mem := m.s.net.m
	owner := req.Owner
	cert := req.OwnerCert
	if mc, ok := mem.Member(owner); ok {
		cert = mc.DER
	} else if owner != m.s.h.ID() {
		if len(cert) == 0 {
			return fmt.Errorf("p2pshare: no message is parked here for %s: not a member this node knows, and no certificate came with the request", owner)
		}
		if _, err := mem.VerifyCert(cert, owner); err != nil {
			return fmt.Errorf("p2pshare: no message is parked here for %s, not a member: %w", owner, err)
		}
	}
	senders := map[string]error{} // checked certificates, by sender and certificate
	var errs []error
	held := 0
	for _, it := range req.Items {
		it, err := m.checkItem(owner, it, now, senders)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok, err := m.box.Put(owner, it, now)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			held++
		}
	}
	if held > 0 {
		m.box.KeepCert(owner, cert)
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	default:
		return fmt.Errorf("%w (and %d more refused)", errs[0], len(errs)-1)
	}
}

// checkItem checks that it, parked for owner, is signed by a member, its
// Sender, and cuts its expiry to this node's MessageTTL from now. senders
// caches the checks of senders' certificates.
func (m *messenger) checkItem(owner peer.ID, it mailbox.Item, now time.Time, senders map[string]error) (mailbox.Item, error) {
	if err := mailbox.Verify(owner, it); err != nil {
		return it, err
	}
	k := string(it.Sender) + string(it.Cert)
	cerr, ok := senders[k]
	if !ok {
		_, cerr = m.s.net.m.VerifyCert(it.Cert, it.Sender)
		senders[k] = cerr
	}
	if cerr != nil {
		return it, fmt.Errorf("p2pshare: a message parked by %s, not a member: %w", it.Sender, cerr)
	}
	// Nobody parks for longer than this node keeps messages.
	if limit := now.Add(m.ttl); it.Expiry.After(limit) {
		it.Expiry = limit
	}
	return it, nil
}

// checkKept is mailbox.OpenStore's check of a message this node kept
// from its last run: as putChecked checks one parked now, save that an
// owner whose certificate was not kept (it was a member when the message
// was parked) is not asked to be one again.
func (m *messenger) checkKept(now time.Time) mailbox.Check {
	senders := map[string]error{}
	owners := map[peer.ID]error{}
	return func(owner peer.ID, cert []byte, it mailbox.Item) (mailbox.Item, error) {
		if len(cert) > 0 && owner != m.s.h.ID() {
			err, ok := owners[owner]
			if !ok {
				_, err = m.s.net.m.VerifyCert(cert, owner)
				owners[owner] = err
			}
			if err != nil {
				return it, err
			}
		}
		return m.checkItem(owner, it, now, senders)
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
		ask := mailbox.Request{Op: mailbox.OpHave, Owner: owner, IDs: list}
		has := func(p peer.ID) bool {
			resp, err := m.askHolder(ctx, p, ask, eachHolderWait)
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
		stored, _ := m.putAll(ctx, owner, m.ownerCert(owner), plan.StoreTo, items)
		if plan.Drop && (stored > 0 || len(plan.StoreTo) == 0) {
			m.box.Drop(owner)
		}
	}
}
