package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// upTurns is how many of a node's uploaders may wait for its upload cap at
// once. With one, the cap idled from the moment a piece's tokens came due
// until the next uploader, woken, reserved its own: on a loaded machine
// (31 nodes on 2 cores) 7 ms at the median and more than the cap's 20 ms
// burst in over a tenth of the pieces, and the students' uploads were busy
// 93-97 % of the time.
// With two, the next piece's tokens are reserved while the one before
// still waits. Its request stays queued until they are due (takeNext), so
// a Cancel meanwhile still withdraws it.
const upTurns = 2

// NewUpTurn returns the turn a node's sessions share (Config.UpTurn).
func NewUpTurn() chan struct{} { return make(chan struct{}, upTurns) }

// MaxQueuedRequests is how many requests a peer may have open with us. Beyond
// it, requests are rejected: a peer cannot make us queue unbounded work. An
// honest peer never asks for more (its pipeline is capped at it), so the
// rejects count against the peer's budget.
const MaxQueuedRequests = 64

// Peer exchange is throttled per link: an honest peer sends at most one
// peer list per tick of its session (500 ms). Lists beyond the rate are
// ignored, not decoded.
const (
	peersPerSecond = 2
	peersBurst     = 64
)

// link is one peer stream of one session: a reader goroutine that decodes
// messages and reports them to the session, a verifier and a storer that
// check and write the pieces it receives, an uploader that serves the
// peer's requests in order, and a writer that owns the stream's write side.
type link struct {
	s        *Session
	id       peer.ID
	outbound bool // we opened the stream
	stream   network.Stream
	limits   wire.Limits

	mu      sync.Mutex
	ctrl    []wire.Msg      // control messages waiting for the writer
	queue   []uint32        // the peer's requests, oldest first
	asked   map[uint32]bool // our requests to the peer, not yet answered
	closed  bool
	wake    chan struct{} // writer: ctrl has messages
	reqWake chan struct{} // uploader: queue has requests
	pieces  chan outPiece // uploader -> writer
	verify  chan wire.Msg // reader -> verifier
	store   chan wire.Msg // verifier -> storer: verified pieces
	done    chan struct{} // closed when the link shuts down
	once    sync.Once
	// lastPiece is when the peer last sent piece data (Unix ns), or when
	// the link came up or last had no requests open.
	lastPiece atomic.Int64
	// earned counts what lets an honest peer send more control messages:
	// the pieces we served it and the requests we sent it.
	earned  atomic.Int64
	cancels atomic.Int64  // cancels we sent: pieces that may cross them
	budget  budget        // owned by the reader
	peers   *rate.Limiter // peer lists; owned by the reader
	served  pieceSet      // pieces served on this link; owned by the uploader
	w       *wire.Writer  // the handshake's writer, reused by writeLoop
	// fetching: the peer asked us for a piece, so it is no seed.
	fetching atomic.Bool
	// withheld are the pieces we got but did not announce to the peer
	// (it held them already); owned by the session goroutine, nil until
	// one is.
	withheld pieceSet
	seedSeen bool // a tick saw both ends complete; owned by the session (bothSeeds)
	// sent are the pieces served on the link and in the node's flight
	// (Flight), each with the timer that gives up on its Have; guarded by
	// mu.
	sent     map[uint32]*time.Timer
	sentWake chan struct{} // uploader: a piece of the link's left the flight
	// haves are the Haves held back for the link's next write
	// (announceHave); guarded by mu.
	haves []uint32
}

type outPiece struct {
	msg     wire.Msg
	release func()
}

func newLink(s *Session, id peer.ID, st network.Stream, outbound bool) *link {
	l := &link{
		s: s, id: id, stream: st, outbound: outbound,
		limits:   s.limits,
		asked:    map[uint32]bool{},
		wake:     make(chan struct{}, 1),
		reqWake:  make(chan struct{}, 1),
		sentWake: make(chan struct{}, 1),
		pieces:   make(chan outPiece),
		verify:   make(chan wire.Msg, 1),
		store:    make(chan wire.Msg, 1),
		done:     make(chan struct{}),
		budget:   newBudget(s.m.NumPieces()),
		peers:    rate.NewLimiter(peersPerSecond, peersBurst),
		served:   newPieceSet(s.m.NumPieces()),
	}
	l.lastPiece.Store(time.Now().UnixNano())
	return l
}

// start runs the link's goroutines; r is the reader that read the handshake.
func (l *link) start(r *wire.Reader) {
	r.Alloc = func(int) []byte { return l.s.bufs.get() }
	go l.verifyLoop()
	go l.storeLoop()
	go l.readLoop(r)
	go l.writeLoop()
	go l.uploadLoop()
}

// send queues a control message without blocking the caller.
func (l *link) send(m wire.Msg) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.ctrl = append(l.ctrl, m)
	l.mu.Unlock()
	notify(l.wake)
}

// request asks the peer for piece i and remembers that we did.
func (l *link) request(i int) {
	l.mu.Lock()
	l.asked[uint32(i)] = true
	l.mu.Unlock()
	l.earned.Add(1) // the peer may reject it
	l.send(wire.Msg{Type: wire.Request, Index: uint32(i)})
}

// withhold records that the peer was not told we got piece i. Called by
// the session goroutine.
func (l *link) withhold(i int) {
	if l.withheld == nil {
		l.withheld = newPieceSet(l.s.m.NumPieces())
	}
	l.withheld.add(uint32(i))
}

// tellWithheld announces the pieces withhold kept back, so that the peer
// learns we are complete: once it is complete too, one of us drops the
// link. Called by the session goroutine.
func (l *link) tellWithheld() {
	if l.withheld == nil {
		return
	}
	for i := range l.s.m.NumPieces() {
		if l.withheld.has(uint32(i)) {
			l.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
		}
	}
	l.withheld = nil
}

// cancel withdraws our request for piece i.
func (l *link) cancel(i int) {
	l.mu.Lock()
	delete(l.asked, uint32(i))
	l.mu.Unlock()
	l.cancels.Add(1) // the piece may cross the cancel
	l.send(wire.Msg{Type: wire.Cancel, Index: uint32(i)})
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// close shuts the link down once; the reader then reports linkDown.
func (l *link) close() {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.done)
		_ = l.stream.Reset()
		l.landAll()
	})
}

func (l *link) readLoop(r *wire.Reader) {
	err := l.read(r)
	l.close()
	l.s.post(event{kind: evLinkDown, l: l, err: err})
}

func (l *link) read(r *wire.Reader) error {
	first := true
	for {
		m, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, wire.ErrMessageTooLarge) || errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrUnknownType) {
				return fmt.Errorf("%w: %w", ErrMisbehaved, err)
			}
			return err
		}
		if first && m.Type != wire.Bitfield {
			return fmt.Errorf("%w: %v before its bitfield", ErrMisbehaved, m.Type)
		}
		switch m.Type {
		case wire.Have, wire.Request, wire.Cancel, wire.Reject:
			if err := l.budget.spend(l.earned.Load()); err != nil {
				return err
			}
			if int(m.Index) >= l.s.m.NumPieces() {
				return fmt.Errorf("%w: %v for piece %d of %d", ErrMisbehaved, m.Type, m.Index, l.s.m.NumPieces())
			}
		}
		switch m.Type {
		case wire.Bitfield:
			if !first {
				return fmt.Errorf("%w: a second bitfield", ErrMisbehaved)
			}
			first = false
			bits, err := decodeBitfield(m.Data, l.s.m.NumPieces())
			if err != nil {
				return fmt.Errorf("%w: %w", ErrMisbehaved, err)
			}
			l.s.post(event{kind: evBitfield, l: l, bits: bits})
		case wire.Have:
			l.landed(m.Index, true)
			l.s.post(event{kind: evHave, l: l, i: int(m.Index)})
		case wire.Request:
			l.fetching.Store(true)
			l.enqueue(m.Index)
		case wire.Cancel:
			l.dequeue(m.Index)
			// A Cancel for a piece already sent crossed it: the peer got
			// the piece elsewhere and drops our copy without a Have (it
			// withholds the Have from a peer that holds the piece and is
			// fetching, until it completes). The copy leaves the flight
			// now, undelivered, rather than after FlightTimeout: in a quiz
			// to 50 processes one student, two pieces short, got nothing
			// for 4.5 s while its uploaders' flights waited out such
			// copies (the endgame asks two peers for the last pieces).
			l.landed(m.Index, false)
		case wire.Reject:
			// A reject may cross our cancel of the same request; only one
			// for an open request counts.
			if l.settle(m.Index) {
				l.s.post(event{kind: evRejected, l: l, i: int(m.Index)})
			}
		case wire.Piece:
			if err := l.receive(m); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		case wire.Peers:
			if !l.peers.Allow() {
				continue // throttled: more lists than an honest peer sends
			}
			list, err := wire.DecodePeers(m.Data)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrMisbehaved, err)
			}
			l.s.post(event{kind: evPeers, l: l, peers: list})
		case wire.Refuse:
			return fmt.Errorf("swarm: peer refused: %q", m.Data)
		default:
			return fmt.Errorf("%w: unexpected %v message", ErrMisbehaved, m.Type)
		}
	}
}

// settle forgets our request for piece i, reporting whether there was one.
func (l *link) settle(i uint32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.asked[i] {
		return false
	}
	delete(l.asked, i)
	return true
}

// receive checks one piece as it comes off the stream and hands it to the
// link's verifier, so the stream keeps flowing while the previous piece is
// hashed and written. Data nobody asked for is dropped (it may answer a
// request we just cancelled) and charged to the peer's budget; it takes
// nothing from the download cap, which is for the pieces we asked for.
func (l *link) receive(m wire.Msg) error {
	i := int(m.Index)
	if i >= l.s.m.NumPieces() {
		l.s.bufs.put(m.Data)
		return fmt.Errorf("%w: piece %d of %d", ErrMisbehaved, i, l.s.m.NumPieces())
	}
	l.s.down.Add(int64(len(m.Data)))
	if !l.settle(m.Index) {
		l.s.bufs.put(m.Data)
		return l.budget.stray(l.cancels.Load())
	}
	if err := waitN(l.s.ctx, l.s.cfg.Down, len(m.Data)); err != nil {
		l.s.bufs.put(m.Data)
		return err
	}
	l.lastPiece.Store(time.Now().UnixNano())
	select {
	case l.verify <- m:
		return nil
	case <-l.done:
		l.s.bufs.put(m.Data)
		return io.EOF
	}
}

// verifyLoop hashes the pieces receive hands it and passes the good ones
// to storeLoop, so that one piece is hashed while the one before is
// written: on a fast link either alone is most of a core. Data that fails
// verification ends the link and bans the peer.
func (l *link) verifyLoop() {
	for {
		var m wire.Msg
		select {
		case m = <-l.verify:
		case <-l.done:
			return
		}
		i := int(m.Index)
		if !storage.VerifyPiece(l.s.m, i, m.Data) {
			l.s.bufs.put(m.Data)
			l.s.post(event{kind: evBad, l: l, i: i})
			l.close()
			return
		}
		select {
		case l.store <- m:
		case <-l.done:
			l.s.bufs.put(m.Data)
			return
		}
	}
}

// storeLoop writes the verified pieces verifyLoop hands it and reports each
// to the session once it is stored.
func (l *link) storeLoop() {
	for {
		var m wire.Msg
		select {
		case m = <-l.store:
		case <-l.done:
			return
		}
		i := int(m.Index)
		if !l.s.st.Have(i) {
			if err := l.s.st.WritePiece(i, m.Data); err != nil {
				l.s.bufs.put(m.Data)
				l.s.post(event{kind: evDiskError, l: l, i: i, err: err})
				l.close()
				return
			}
		}
		l.s.bufs.put(m.Data)
		l.s.post(event{kind: evGot, l: l, i: i})
	}
}

func (l *link) enqueue(i uint32) {
	l.mu.Lock()
	full := len(l.queue) >= MaxQueuedRequests
	if !full {
		l.queue = append(l.queue, i)
	}
	l.mu.Unlock()
	if full {
		l.send(wire.Msg{Type: wire.Reject, Index: i})
		return
	}
	notify(l.reqWake)
}

func (l *link) dequeue(i uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, q := range l.queue {
		if q == i {
			l.queue = append(l.queue[:k], l.queue[k+1:]...)
			return
		}
	}
}

// uploadLoop serves the peer's requests in the order they came, one piece at
// a time, under the node's upload cap. Under a cap the links, of every
// session of the node, take turns (Config.UpTurn): a request leaves the
// queue only when its link's turn comes and the cap's tokens for it are
// due, so until then a Cancel still withdraws it and no upload goes to a
// piece its asker already got elsewhere.
func (l *link) uploadLoop() {
	capped := isCapped(l.s.cfg.Up)
	for {
		l.mu.Lock()
		ok := len(l.queue) > 0
		l.mu.Unlock()
		if !ok {
			select {
			case <-l.reqWake:
				continue
			case <-l.done:
				return
			}
		}
		if capped {
			select {
			case l.s.upTurn <- struct{}{}:
			case <-l.done:
				return
			}
		} else if !l.awaitOwnRoom() || !l.s.flight.acquire(l.s.m.PieceSize, l.done) {
			return
		}
		p, ok := l.takeNext()
		if capped {
			<-l.s.upTurn
		}
		if !ok || p.msg.Data == nil {
			if !capped {
				l.s.flight.land(l.s.m.PieceSize, false)
			}
			if !ok {
				return
			}
			continue
		}
		// The writer may still be sending the previous piece to a slow
		// peer; the turn has passed on meanwhile.
		select {
		case l.pieces <- p:
			if !capped {
				l.flying(p.msg.Index)
			}
			l.served.add(p.msg.Index)
			l.earned.Add(1) // the peer may ask for another
			l.s.up.Add(int64(len(p.msg.Data)))
			if l.s.cfg.SuperSeed {
				l.s.post(event{kind: evServed, l: l, i: int(p.msg.Index)})
			}
		case <-l.done:
			p.release()
			if !capped {
				l.s.flight.land(l.s.m.PieceSize, false)
			}
			return
		}
	}
}

// takeNext serves the first queued request: it waits for the upload cap's
// tokens, reads the piece and returns it to send. It returns none (Data nil)
// if every request was cancelled meanwhile or is refused, and false once the
// session is done.
//
// The request is taken from the queue only when the tokens are due. Until
// then a Cancel still withdraws it: with several uploaders waiting for the
// cap (upTurns), a request would otherwise leave the queue a piece's time
// before it is sent, and a copy its asker got elsewhere meanwhile — the
// endgame's and a take-over's second asks — would cost a piece of upload
// for nothing. If the first request was cancelled, the tokens go to the
// one after it.
func (l *link) takeNext() (outPiece, bool) {
	var reserved int64 // tokens taken from the cap for this turn
	for {
		i, ok := l.head()
		if !ok {
			return outPiece{}, true // all cancelled; the tokens taken are spent
		}
		// A piece already served on this link is not served again: an
		// honest peer never asks twice for a piece it got, and a peer that
		// does pays for each ask from its budget without costing our upload.
		if !l.servable(i) {
			if l.popIf(i) {
				l.send(wire.Msg{Type: wire.Reject, Index: i})
			}
			continue
		}
		if size := l.s.m.PieceLen(int(i)); reserved < size {
			if err := waitN(l.s.ctx, l.s.cfg.Up, int(size-reserved)); err != nil {
				return outPiece{}, false
			}
			reserved = size
			if isCapped(l.s.cfg.Up) {
				continue // the tokens are due: serve whichever request is first now
			}
		}
		if !l.popIf(i) {
			continue
		}
		buf := l.s.bufs.get()
		data, err := l.s.st.ReadPiece(int(i), buf)
		if err != nil {
			l.s.bufs.put(buf)
			l.s.post(event{kind: evDiskError, l: l, i: int(i), err: err})
			l.send(wire.Msg{Type: wire.Reject, Index: i})
			return outPiece{}, true
		}
		return outPiece{msg: wire.Msg{Type: wire.Piece, Index: i, Data: data}, release: func() { l.s.bufs.put(buf) }}, true
	}
}

// head is the peer's oldest queued request, if any.
func (l *link) head() (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return 0, false
	}
	return l.queue[0], true
}

// popIf takes request i off the queue if it is still the oldest.
func (l *link) popIf(i uint32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 || l.queue[0] != i {
		return false
	}
	l.queue = l.queue[1:]
	return true
}

// servable reports whether we may serve piece i on this link: we hold it
// and did not serve it here before.
func (l *link) servable(i uint32) bool {
	return int(i) < l.s.m.NumPieces() && l.s.st.Have(int(i)) && !l.served.has(i)
}

// writeLoop owns the stream's write side: control messages first, then
// pieces, flushing whenever it runs out of work. Every write has a deadline,
// so a peer that stops reading is dropped and what waits for it is freed.
func (l *link) writeLoop() {
	w := l.w
	if w == nil {
		w = wire.NewWriter(l.stream)
	}
	// Each write has at least three quarters of writeTimeout to finish:
	// the deadline is armed again only when less is left, not for every
	// piece and batch of Haves (each time a timer of the mux's, stopped
	// and made again). An armed deadline that passes while the link is
	// idle does nothing until the next write arms a new one.
	var deadline time.Time
	arm := func() {
		if now := time.Now(); deadline.Sub(now) < writeTimeout*3/4 {
			deadline = now.Add(writeTimeout)
			_ = l.stream.SetWriteDeadline(deadline)
		}
	}
	for {
		l.mu.Lock()
		ctrl := l.ctrl
		l.ctrl = nil
		if len(ctrl) > 0 {
			ctrl = l.takeHaves(ctrl) // they ride along
		}
		l.mu.Unlock()
		if len(ctrl) > 0 {
			arm()
		}
		for _, m := range ctrl {
			if err := w.Write(m, l.limits); err != nil {
				l.close()
				return
			}
		}
		if len(ctrl) > 0 {
			continue
		}
		if w.Buffered() > 0 {
			arm()
			if err := w.Flush(); err != nil {
				l.close()
				return
			}
		}
		select {
		case <-l.wake:
		case p := <-l.pieces:
			arm()
			l.mu.Lock()
			held := l.takeHaves(nil) // they ride along
			l.mu.Unlock()
			var err error
			for _, m := range held {
				if err = w.Write(m, l.limits); err != nil {
					break
				}
			}
			if err == nil {
				err = w.Write(p.msg, l.limits)
			}
			if err == nil {
				err = w.Flush()
			}
			p.release()
			if err != nil {
				l.close()
				return
			}
		case <-l.done:
			return
		}
	}
}

// writeTimeout bounds how long one piece may take to leave (between three
// quarters of it and all of it: see writeLoop); a peer that stops reading
// is dropped rather than holding an upload slot forever.
const writeTimeout = 2 * time.Minute

// isCapped reports whether lim caps anything (nil and Inf do not).
func isCapped(lim *rate.Limiter) bool { return lim != nil && lim.Limit() != rate.Inf }

// waitN takes n tokens from lim (nil means no cap). It reserves them all at
// once, in burst-sized steps, and sleeps once until the last is due: a
// sleeper woken late is then late once per call, not once per step, and the
// lateness costs the cap nothing while it stays within the burst.
func waitN(ctx context.Context, lim *rate.Limiter, n int) error {
	if !isCapped(lim) {
		return nil
	}
	if lim.Burst() <= 0 {
		return fmt.Errorf("swarm: a cap with a burst of %d lets no byte through", lim.Burst())
	}
	now := time.Now()
	var rs []*rate.Reservation
	var wait time.Duration
	for n > 0 {
		step := min(n, lim.Burst())
		r := lim.ReserveN(now, step)
		if !r.OK() { // the burst changed meanwhile
			cancelAll(rs, now)
			return fmt.Errorf("swarm: cannot take %d bytes from a cap of burst %d", step, lim.Burst())
		}
		rs = append(rs, r)
		wait = r.DelayFrom(now)
		n -= step
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		cancelAll(rs, time.Now())
		return ctx.Err()
	}
}

// cancelAll gives back the tokens of reservations made in order, the last
// first: a reservation gives back only what no later one has taken.
func cancelAll(rs []*rate.Reservation, now time.Time) {
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].CancelAt(now)
	}
}

// decodeBitfield turns a wire bitfield into one bool per piece, refusing a
// wrong length or bits set past the last piece.
func decodeBitfield(b []byte, n int) ([]bool, error) {
	if len(b) != (n+7)/8 {
		return nil, fmt.Errorf("swarm: bitfield of %d bytes for %d pieces", len(b), n)
	}
	out := make([]bool, n)
	for i := 0; i < len(b)*8; i++ {
		set := b[i/8]&(0x80>>(i%8)) != 0
		if i >= n {
			if set {
				return nil, fmt.Errorf("swarm: bitfield sets bit %d past the last piece %d", i, n-1)
			}
			continue
		}
		out[i] = set
	}
	return out, nil
}

func encodeBitfield(have []bool) []byte {
	b := make([]byte, (len(have)+7)/8)
	for i, h := range have {
		if h {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}
