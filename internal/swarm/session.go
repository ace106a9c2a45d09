// Package swarm runs the exchange of one share's pieces with many peers at
// once. A Session owns the share's state in one goroutine; its links (one per
// peer stream) report what they read as events and carry out what the session
// decides. Which piece to ask whom for is the picker's decision.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/picker"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/upload"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// Store holds a session's content: on disk (storage.Storage) or in memory
// (storage.Memory). WritePiece gets verified pieces; Sync records what is
// held, where that can outlive the session; Complete puts a finished fetch
// in place; Close ends it. Reads and writes of different pieces may run at
// once.
type Store interface {
	Have(i int) bool
	ReadPiece(i int, buf []byte) ([]byte, error)
	ReadAt(p []byte, off int64) (int, error)
	WritePiece(i int, data []byte) error
	Sync() error
	Complete() error
	Close() error
}

var (
	_ Store = (*storage.Storage)(nil)
	_ Store = (*storage.Memory)(nil)
)

// Config is what a Session needs. Every field but Up, Down, Log and
// InFlightBytes is required.
type Config struct {
	Manifest *manifest.Manifest
	Encoded  []byte  // the manifest's canonical bytes, served to peers
	Infohash cid.Cid // names the share
	Storage  Store
	Self     peer.ID
	Up, Down *rate.Limiter // the node's caps on piece payload; nil: none
	// UpTurn (NewUpTurn), shared by every session under the same Up, is
	// held by the uploaders that wait for Up's tokens (see
	// link.uploadLoop); nil gives the session a turn of its own.
	UpTurn chan struct{}
	// Flight (NewFlight), shared by every session of a node, is what the
	// node sent with no upload cap and has not heard delivered: an
	// uploader with no cap sends only while there is room in it. Nil gives
	// the session one of its own.
	Flight *Flight
	// FlightTimeout is how long a piece sent stays in the flight without
	// its Have; 0 means DefaultFlightTimeout.
	FlightTimeout time.Duration
	// HaveDelay is the longest a Have to a peer other than the piece's
	// sender waits for company (announceHave); 0 means DefaultHaveDelay.
	HaveDelay time.Duration

	Rand *rand.Rand
	Log  *slog.Logger
	// InFlightBytes caps the bytes of requests open to one peer; below it
	// each peer's pipeline follows what the peer delivers (picker.Pipeline).
	// 0 means 64 MiB.
	InFlightBytes int64
	// OnComplete, if set, runs in the session goroutine once every piece is
	// held and stored at its final path.
	OnComplete func()
	// SuperSeed makes the session, which must start complete, reveal its
	// pieces a few at a time until each has left it once (see
	// upload.SuperSeed). Set it for a share's first seeder.
	SuperSeed bool
	// UploadBudget, with SuperSeed, is how many bytes the session may
	// upload or owe (pieces shown and not yet taken) before it shows its
	// peers only pieces no linked peer holds or is owed; it keeps
	// revealing pieces a few at a time, never everything. A piece whose
	// holders all left is shown again, so nothing is stranded. 0: no
	// budget.
	UploadBudget int64
	// MaxLinks caps the peers the session trades with; 0 means
	// picker.DefaultMaxLinks. A fetch dials peers only below its link
	// target, MaxLinks or, for a share of few pieces, fewer (see
	// picker.LinkTarget); it accepts links from
	// others up to twice MaxLinks.
	MaxLinks int
	// Addrs returns the known addresses of a peer, for peer exchange; nil
	// means none are told.
	Addrs func(peer.ID) []ma.Multiaddr
	// Member, if set, says whether a linked peer is still a member (the
	// membership layer's IsMember); peer exchange names only those, so a
	// peer revoked while linked is not passed on before its link closes.
	Member func(peer.ID) bool
	// Dial, if set, is asked to connect to a peer learnt through peer
	// exchange. It must not block; it reports whether it started the
	// dial (false: too many run, ask again later).
	Dial func(peer.AddrInfo) bool
	// Conns, if set, is told which peers the session has a link with, so
	// that their connections are not trimmed while pieces flow: the
	// host's connection manager. Nil protects nothing.
	Conns Protector
	// StallTimeout, for a fetch, is how long it may receive no piece data
	// before it ends with ErrStalled; 0 is no limit. Either way the
	// session says what it waits for (Waiting, EventWaiting).
	StallTimeout time.Duration
}

// Session trades one share's pieces with its peers. Its methods are safe for
// concurrent use.
type Session struct {
	cfg    Config
	m      *manifest.Manifest
	st     Store
	limits wire.Limits
	ctx    context.Context
	cancel context.CancelFunc
	events chan event
	bufs   *bufPool

	// Owned by the run goroutine.
	links    map[peer.ID]*link
	picker   *picker.Picker
	pipes    map[peer.ID]*picker.Pipeline
	super    *upload.SuperSeed
	gained   map[peer.ID]time.Time        // on a budget: when each peer last got a piece
	told     map[peer.ID]map[peer.ID]bool // peer exchange: who was told of whom
	heard    map[peer.ID]*heardPeer       // peer exchange: peers to link to
	maxDepth int
	linkUps  linkRate
	target   int // links a fetch dials up to: picker.LinkTarget
	stall    *stallWatch
	// upTurn is Config.UpTurn: held by the uploaders (upTurns of them)
	// that wait for the upload cap's tokens; the others' requests wait in
	// their queues meanwhile, where a Cancel still reaches them.
	upTurn chan struct{}
	flight *Flight // Config.Flight
	// havesDue fires when the Haves held back for company are due
	// (announceHave); nil when none wait.
	havesDue   <-chan time.Time
	havesTimer *time.Timer

	// Shared, read by Progress and the reader.
	down, up   atomic.Int64
	nPeers     atomic.Int32
	nHave      atomic.Int32
	haveBytes  atomic.Int64
	waiting    atomic.Int32 // a Waiting
	found      atomic.Int32 // NoteHolders; -1 before the first
	nVerified  atomic.Int64 // pieces received and verified: Progress.Verified
	nFailed    atomic.Int64 // pieces that failed verification: Progress.Failed
	mu         sync.Mutex
	changed    chan struct{}         // closed and replaced when a piece verifies
	banned     map[peer.ID]bool      // sent data that failed verification
	penalty    map[peer.ID]time.Time // broke the protocol: refused until then
	connected  map[peer.ID]bool
	complete   chan struct{} // closed once every piece is held and stored
	holding    chan struct{} // closed once some piece is held
	failed     chan struct{} // closed when the session ends in error
	err        error
	stopped    chan struct{}
	subs       []chan Event
	lastSample sample
}

// New starts a session. It runs until ctx ends or Close is called.
func New(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Manifest == nil || cfg.Storage == nil || cfg.Rand == nil || cfg.Self == "" || !cfg.Infohash.Defined() {
		return nil, errors.New("swarm: Config needs Manifest, Storage, Rand, Self and Infohash")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.InFlightBytes <= 0 {
		cfg.InFlightBytes = 64 << 20
	}
	if cfg.MaxLinks <= 0 {
		cfg.MaxLinks = picker.DefaultMaxLinks
	}
	if cfg.UpTurn == nil {
		cfg.UpTurn = NewUpTurn()
	}
	if cfg.Flight == nil {
		cfg.Flight = NewFlight()
	}
	if cfg.FlightTimeout <= 0 {
		cfg.FlightTimeout = DefaultFlightTimeout
	}
	if cfg.HaveDelay <= 0 {
		cfg.HaveDelay = DefaultHaveDelay
	}
	m := cfg.Manifest
	have := make([]bool, m.NumPieces())
	for i := range have {
		have[i] = cfg.Storage.Have(i)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Session{
		cfg: cfg, m: m, st: cfg.Storage,
		limits: wire.Limits{MaxPiece: int(m.PieceSize), MaxBitfield: (m.NumPieces() + 7) / 8},
		ctx:    ctx, cancel: cancel,
		events:    make(chan event, 1024),
		bufs:      newBufPool(int(m.PieceSize)),
		links:     map[peer.ID]*link{},
		picker:    picker.New(m.NumPieces(), have, cfg.Rand),
		maxDepth:  int(min(max(2, cfg.InFlightBytes/m.PieceSize), MaxQueuedRequests)),
		target:    picker.LinkTarget(m.NumPieces(), cfg.MaxLinks),
		upTurn:    cfg.UpTurn,
		flight:    cfg.Flight,
		pipes:     map[peer.ID]*picker.Pipeline{},
		told:      map[peer.ID]map[peer.ID]bool{},
		heard:     map[peer.ID]*heardPeer{},
		changed:   make(chan struct{}),
		banned:    map[peer.ID]bool{},
		penalty:   map[peer.ID]time.Time{},
		linkUps:   linkRate{last: map[peer.ID]*rate.Limiter{}},
		connected: map[peer.ID]bool{},
		complete:  make(chan struct{}),
		holding:   make(chan struct{}),
		failed:    make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	s.nHave.Store(int32(m.NumPieces() - s.picker.Missing()))
	for i, h := range have {
		if h {
			s.haveBytes.Add(m.PieceLen(i))
		}
	}
	s.lastSample = sample{at: time.Now()}
	s.found.Store(-1)
	s.stall = newStallWatch(s.lastSample.at, cfg.StallTimeout, 0, int(s.nHave.Load()))
	if s.nHave.Load() > 0 {
		close(s.holding)
	}
	if cfg.SuperSeed && s.picker.Missing() == 0 {
		s.super = upload.NewSuperSeed(m.NumPieces())
		if cfg.UploadBudget > 0 {
			s.super.KeepRevealing()
			s.gained = map[peer.ID]time.Time{}
		}
	}
	if s.picker.Missing() == 0 {
		if err := s.finish(); err != nil {
			cancel()
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

// Infohash names the session's share.
func (s *Session) Infohash() cid.Cid { return s.cfg.Infohash }

// Manifest is the session's share description.
func (s *Session) Manifest() *manifest.Manifest { return s.m }

// Have reports whether piece i is held, verified; out-of-range pieces are
// not.
func (s *Session) Have(i int) bool { return s.st.Have(i) }

// Encoded is the manifest's canonical bytes.
func (s *Session) Encoded() []byte { return s.cfg.Encoded }

// Complete is closed once every piece is held and stored at its final path.
func (s *Session) Complete() <-chan struct{} { return s.complete }

// WantsLinks reports whether the session would trade with more peers than
// it has: it misses pieces and is below its link target.
func (s *Session) WantsLinks() bool {
	return s.Wanted() && int(s.nPeers.Load()) < s.target
}

// Holding is closed once the session holds a verified piece it can serve:
// at once for a share opened with pieces, on the first piece for a fetch.
func (s *Session) Holding() <-chan struct{} { return s.holding }

// Done is closed when the session has stopped.
func (s *Session) Done() <-chan struct{} { return s.stopped }

// Err is why the session stopped in error, if it did.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the session: links close, storage is synced and closed.
func (s *Session) Close() error {
	s.cancel()
	<-s.stopped
	return nil
}

// Wanted reports whether the session still misses pieces, i.e. should look
// for more peers.
func (s *Session) Wanted() bool {
	select {
	case <-s.complete:
		return false
	default:
		return true
	}
}

// Connected reports whether a link to p is up, and Banned whether p was
// caught sending bad data.
func (s *Session) Connected(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected[p]
}

// Banned reports whether p is refused: it sent data that failed
// verification, or it broke the protocol less than penaltyFor ago.
func (s *Session) Banned(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.banned[p] {
		return true
	}
	until, ok := s.penalty[p]
	return ok && time.Now().Before(until)
}

// penaltyFor is how long a session refuses a peer that broke the protocol:
// its streams are refused and it is not dialled.
const penaltyFor = 10 * time.Minute

// penalize refuses p for penaltyFor from now.
func (s *Session) penalize(p peer.ID, now time.Time, why error) {
	s.cfg.Log.Warn("peer broke the protocol; refused for a while", "peer", p, "for", penaltyFor, "err", why)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.penalty) >= maxPenalized {
		for q, until := range s.penalty {
			if !now.Before(until) {
				delete(s.penalty, q)
			}
		}
	}
	s.penalty[p] = now.Add(penaltyFor)
}

// maxPenalized is how many penalties a session keeps before it sweeps the
// expired ones.
const maxPenalized = 1024

func (s *Session) post(e event) {
	select {
	case s.events <- e:
	case <-s.ctx.Done():
	}
}

// fail ends the session with err.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		close(s.failed)
	}
	s.mu.Unlock()
	s.publish(Event{Kind: EventFailed, Err: err})
	s.cancel()
}

func (s *Session) run() {
	defer close(s.stopped)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	syncing := make(chan struct{}, 1)
	lastSync := time.Now()
	for {
		select {
		case <-s.ctx.Done():
			for id, l := range s.links {
				l.close()
				s.unprotect(id)
			}
			// Close syncs what a fetch has written, then releases the files.
			if err := s.st.Close(); err != nil {
				s.cfg.Log.Warn("closing storage", "err", err)
			}
			s.closeSubs()
			return
		case e := <-s.events:
			s.handle(e)
		case <-s.havesDue:
			s.releaseHaves()
		case now := <-tick.C:
			s.publishProgress(now)
			for id, l := range s.links {
				if s.stalled(l, now) {
					s.cfg.Log.Info("dropping a peer that sent nothing for a while", "peer", id, "open", s.picker.Outstanding(picker.Peer(id)))
					s.dropLink(l)
					continue
				}
				if s.bothSeeds(l) {
					s.dropLink(l)
					continue
				}
				s.pipes[id].Sample(now)
				s.requestMore(l)
			}
			s.exchangePeers()
			s.dialHeard(now)
			s.rescueStalled(now)
			if s.Wanted() && syncDue(now.Sub(lastSync), s.m.TotalSize()) {
				select {
				case syncing <- struct{}{}:
					lastSync = now
					go func() {
						defer func() { <-syncing }()
						if err := s.st.Sync(); err != nil {
							s.post(event{kind: evDiskError, err: err})
						}
					}()
				default:
				}
			}
			if s.Wanted() {
				s.watchStall(now)
			}
		}
	}
}

func (s *Session) handle(e event) {
	l := e.l
	if e.kind == evLinkUp {
		s.addLink(l)
		return
	}
	if e.kind == evUrgent {
		s.picker.SetUrgent(e.i, e.i+urgentWindow)
		for _, l := range s.links {
			s.requestMore(l)
		}
		return
	}
	if e.kind == evDiskError {
		s.fail(fmt.Errorf("swarm: disk: %w", e.err))
		return
	}
	if l == nil || s.links[l.id] != l {
		return // a link already replaced or dropped
	}
	switch e.kind {
	case evBitfield:
		s.picker.AddPeer(picker.Peer(l.id), e.bits)
		if s.gained != nil {
			s.gained[l.id] = time.Now()
		}
		if s.super != nil {
			s.revealMore(l)
		}
		if !s.Wanted() && all(e.bits) {
			l.close() // two seeds have nothing to trade
			return
		}
		s.requestMore(l)
	case evHave:
		_ = s.picker.PeerHas(picker.Peer(l.id), e.i)
		if s.gained != nil {
			s.gained[l.id] = time.Now()
		}
		s.requestMore(l)
		if s.super != nil {
			s.revealMore(l)
		}
	case evGot:
		s.got(l, e.i)
	case evServed:
		s.revealMore(l)
	case evPeers:
		s.learnPeers(e.peers)
	case evRejected:
		// The peer's queue was full, or it lacked the piece: ask again
		// later (the next event or tick), maybe of someone else.
		s.picker.Released(picker.Peer(l.id), e.i)
	case evBad:
		s.cfg.Log.Warn("peer sent a piece that failed verification; banned", "peer", l.id, "piece", e.i)
		s.mu.Lock()
		s.banned[l.id] = true
		s.mu.Unlock()
		s.nFailed.Add(1)
		s.publish(Event{Kind: EventPeerBanned, Peer: l.id, Piece: e.i})
		s.dropLink(l)
	case evLinkDown:
		if errors.Is(e.err, ErrMisbehaved) {
			s.penalize(l.id, time.Now(), e.err)
		}
		s.unlink(l, e.err)
	}
}

func all(b []bool) bool {
	for _, x := range b {
		if !x {
			return false
		}
	}
	return true
}

// addLink registers a link after its handshake. Of two links to one peer
// (both sides dialled at once), both ends keep the one opened by the smaller
// peer ID, so they agree without talking.
func (s *Session) addLink(l *link) {
	if s.Banned(l.id) || (len(s.links) >= 2*s.cfg.MaxLinks && s.links[l.id] == nil) {
		l.close()
		return
	}
	if now := time.Now(); !s.linkUps.allow(l.id, now) {
		// A peer that opens link after link makes the session redo the
		// handshake's work each time.
		s.penalize(l.id, now, fmt.Errorf("%w: more than %d links in a burst", ErrMisbehaved, linkUpBurst))
		l.close()
		return
	}
	if old, ok := s.links[l.id]; ok {
		keepNew := l.outbound == dialsFirst(s.cfg.Self, l.id)
		if !keepNew {
			l.close()
			return
		}
		s.dropLink(old)
	}
	s.links[l.id] = l
	s.protect(l.id)
	s.mu.Lock()
	s.connected[l.id] = true
	s.mu.Unlock()
	s.nPeers.Add(1)
	have := make([]bool, s.m.NumPieces())
	if s.super == nil || !s.super.Active() {
		for i := range have {
			have[i] = s.picker.Have(i)
		}
	}
	// A super-seed shows a newcomer nothing until its bitfield says what
	// it holds; revealMore then shows it a few pieces.
	l.send(wire.Msg{Type: wire.Bitfield, Data: encodeBitfield(have)})
	s.picker.AddPeer(picker.Peer(l.id), nil)
	s.pipes[l.id] = &picker.Pipeline{}
	s.told[l.id] = map[peer.ID]bool{}
	s.tellPeers(l)
	s.publish(Event{Kind: EventPeerConnected, Peer: l.id})
}

func (s *Session) dropLink(l *link) { s.unlink(l, nil) }

// unlink removes a link; why, if set, is the misbehaviour that ended it,
// which the EventPeerDropped carries.
func (s *Session) unlink(l *link, why error) {
	if s.links[l.id] != l {
		l.close()
		return
	}
	delete(s.links, l.id)
	s.unprotect(l.id)
	delete(s.pipes, l.id)
	delete(s.told, l.id)
	delete(s.gained, l.id)
	if s.super != nil {
		s.super.PeerGone(upload.Peer(l.id), s.peerHolds(l.id))
	}
	s.mu.Lock()
	delete(s.connected, l.id)
	s.mu.Unlock()
	s.nPeers.Add(-1)
	l.close()
	s.picker.RemovePeer(picker.Peer(l.id))
	if !errors.Is(why, ErrMisbehaved) {
		why = nil // a stream that ended is no news to the user
	}
	s.publish(Event{Kind: EventPeerDropped, Peer: l.id, Err: why})
	for _, o := range s.links {
		s.requestMore(o)
		if s.cfg.UploadBudget > 0 {
			s.revealMore(o) // what only the departed peer held
		}
	}
}

// syncInterval is how often a fetch makes its new pieces durable: what a
// crash can cost is the pieces verified since the last sync.
const syncInterval = 500 * time.Millisecond

// syncMinShare is the smallest share a fetch syncs every syncInterval. A
// smaller one (a quiz) costs less to fetch again after a crash than the
// fsyncs of its syncs, and a class fetching it at once queues fifty
// members' fsyncs on whatever disks they share; it is made durable when it
// completes, and a stopped fetch records its state when it closes, as
// every fetch does.
const syncMinShare = 4 << 20

// syncDue reports whether a fetch of a share of size bytes, synced last
// since ago, syncs now.
func syncDue(since time.Duration, size int64) bool {
	return since >= syncInterval && size >= syncMinShare
}

// stallTimeout is how long a peer with requests open may send no piece data
// before the link is dropped and its requests go to others.
const stallTimeout = 30 * time.Second

func (s *Session) stalled(l *link, now time.Time) bool {
	if s.picker.Outstanding(picker.Peer(l.id)) == 0 {
		l.lastPiece.Store(now.UnixNano())
		return false
	}
	return now.Sub(time.Unix(0, l.lastPiece.Load())) > stallTimeout
}

// pipelineTarget is how much of a peer's delivery time the requests open to
// it cover.
const pipelineTarget = 500 * time.Millisecond

func (s *Session) requestMore(l *link) {
	if !s.Wanted() {
		return
	}
	depth := s.pipes[l.id].Depth(s.m.PieceSize, pipelineTarget, 1, s.maxDepth)
	for _, i := range s.picker.Next(picker.Peer(l.id), depth) {
		l.request(i)
	}
}

// got handles a verified, stored piece: settle it, cancel duplicates, tell
// every peer, ask for more, and finish when nothing is missing.
func (s *Session) got(l *link, i int) {
	if s.picker.Have(i) {
		// A copy we got elsewhere first: its sender still hears of it, or
		// the piece would stay in its flight until the timeout.
		l.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
		s.picker.Got(picker.Peer(l.id), i)
		s.requestMore(l)
		return
	}
	s.pipes[l.id].Delivered(s.m.PieceLen(i))
	for _, p := range s.picker.Got(picker.Peer(l.id), i) {
		if o := s.links[peer.ID(p)]; o != nil {
			o.cancel(i)
			s.requestMore(o)
		}
	}
	if s.nHave.Add(1) == 1 {
		close(s.holding)
	}
	s.haveBytes.Add(s.m.PieceLen(i))
	s.nVerified.Add(1)
	// Everyone who may want it hears of it, and every seed: a super-seed
	// counts on hearing where its pieces went. So does the peer that sent
	// it: its Have is how an uploader with no cap knows the piece left
	// its flight (Flight). A peer that is still
	// fetching (it has asked us for pieces) and holds the piece has no use
	// for the news; in a quiz, where a class trades 64 pieces over a dozen
	// links each, that is half the Haves. A super-seed shows its pieces as
	// Haves too, so a peer that never asked is told everything. The Haves
	// held back go out when this session completes (tellWithheld).
	for _, o := range s.links {
		if o == l {
			o.send(wire.Msg{Type: wire.Have, Index: uint32(i)})
			continue
		}
		if o.fetching.Load() && s.picker.PeerHolds(picker.Peer(o.id), i) && !s.peerComplete(o.id) {
			o.withhold(i)
			continue
		}
		s.announceHave(o, i)
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.publish(Event{Kind: EventPiece, Piece: i, Peer: l.id})
	if s.picker.Missing() == 0 {
		if err := s.finish(); err != nil {
			s.fail(err)
			return
		}
		s.releaseHaves()
		for _, o := range s.links {
			if !s.picker.Interested(picker.Peer(o.id)) && s.peerComplete(o.id) {
				s.dropLink(o)
				continue
			}
			o.tellWithheld()
		}
		return
	}
	s.requestMore(l)
}

// bothSeeds reports, on a tick, whether l's peer completed after this
// session did, a tick ago or more: two seeds have nothing to trade, and
// the link would keep its connection open. A tick's wait lets a peer that
// floods us with Haves trip its budget (and be refused) before it looks
// complete. A super-seed on an upload budget keeps its links: the budget
// counts the pieces its linked peers hold (heldByPeer).
func (s *Session) bothSeeds(l *link) bool {
	if s.Wanted() || !s.peerComplete(l.id) || (s.super != nil && s.cfg.UploadBudget > 0) {
		return false
	}
	seen := l.seedSeen
	l.seedSeen = true
	return seen
}

func (s *Session) peerComplete(p peer.ID) bool {
	return s.picker.PeerComplete(picker.Peer(p))
}

// finish moves the content to its final path and announces completion.
func (s *Session) finish() error {
	if err := s.st.Complete(); err != nil {
		return fmt.Errorf("swarm: finishing %s: %w", s.m.Name, err)
	}
	close(s.complete)
	s.waiting.Store(int32(NotWaiting))
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.publish(Event{Kind: EventComplete})
	if s.cfg.OnComplete != nil {
		s.cfg.OnComplete()
	}
	return nil
}

type evKind int

const (
	evLinkUp evKind = iota
	evBitfield
	evHave
	evGot
	evRejected
	evBad
	evLinkDown
	evDiskError
	evServed
	evPeers
	evUrgent
)

// urgentWindow is how many pieces from a waiting reader's position go before
// rarest first.
const urgentWindow = 8

type event struct {
	kind  evKind
	l     *link
	i     int
	bits  []bool
	err   error
	peers []wire.PeerEntry
}
