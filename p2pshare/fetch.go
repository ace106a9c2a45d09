package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// Progress is a snapshot of a fetch or a share: bytes and pieces verified,
// peers connected, bytes moved each way and the current rates. Its fields:
//
//	Bytes       int64   // verified content bytes held
//	TotalBytes  int64   // content size
//	Pieces      int     // verified pieces held
//	TotalPieces int     // pieces in the share
//	Peers       int     // peers with a link up
//	Downloaded  int64   // piece payload received, including waste
//	Uploaded    int64   // piece payload sent
//	DownRate    float64 // bytes per second over the last interval
//	UpRate      float64 // bytes per second over the last interval
//	Waiting     Waiting // what a fetch that has received no piece data for a while waits for; NotWaiting while data flows, and for a seed
//	Verified    int64   // pieces received and verified, from the first (not those held at the start, nor a duplicate)
//	Failed      int64   // pieces received that failed verification, each of which banned its sender
//
// Verified and Failed are counted by the share's own session, so they are
// exact whoever watches.
type Progress = swarm.Progress

// Event is one thing that happened to a fetch: a peer came or went or was
// banned, a piece verified, a progress snapshot, a change in what a fetch
// that receives nothing waits for, completion or failure. Its fields, set
// as Kind says:
//
//	Kind     EventKind
//	Peer     PeerID   // the peer a link, a piece or a ban is about
//	Piece    int      // the piece that verified, or failed and banned Peer
//	Err      error    // why the fetch failed (EventFailed), or how Peer broke the protocol (EventPeerDropped; it is refused for a while)
//	Progress Progress // a snapshot (EventProgress, EventWaiting)
//	Waiting  Waiting  // what the fetch now waits for (EventWaiting)
type Event = swarm.Event

// EventKind says what an Event reports. Its String names the kind as logs
// and the leecher's JSON do: "progress", "peer-connected", "peer-dropped",
// "peer-banned", "piece", "complete", "failed", "waiting".
type EventKind = swarm.EventKind

// The kinds of Event.
const (
	EventProgress      = swarm.EventProgress      // a periodic Progress snapshot
	EventPeerConnected = swarm.EventPeerConnected // a link to Peer came up
	EventPeerDropped   = swarm.EventPeerDropped   // the link to Peer went down
	EventPeerBanned    = swarm.EventPeerBanned    // Peer sent Piece and it failed verification
	EventPiece         = swarm.EventPiece         // Piece arrived from Peer and verified
	EventComplete      = swarm.EventComplete      // every piece is held and stored
	EventFailed        = swarm.EventFailed        // the fetch stopped with Err
	EventWaiting       = swarm.EventWaiting       // what the fetch waits for changed: Waiting (NotWaiting: data flows again)
)

// Waiting says what a fetch that has received no piece data for a while is
// waiting for: Progress.Waiting holds it, and an EventWaiting reports each
// change. Its String is what the leecher shows.
type Waiting = swarm.Waiting

// What a fetch can wait for.
const (
	// NotWaiting: piece data arrived lately, or the fetch is complete.
	NotWaiting = swarm.NotWaiting
	// WaitingNoHolder: no linked member holds a piece the fetch misses,
	// and none the lookups found could be linked. The fetch keeps looking:
	// it asks the DHT for the share's providers again, backing off to every
	// 5 s, and asks the members it joined through.
	WaitingNoHolder = swarm.WaitingNoHolder
	// WaitingHoldersBanned: every member known to hold the share is banned
	// for sending a piece that failed verification; the fetch keeps
	// looking for another.
	WaitingHoldersBanned = swarm.WaitingHoldersBanned
	// WaitingHoldersIdle: linked members hold pieces the fetch misses but
	// send none.
	WaitingHoldersIdle = swarm.WaitingHoldersIdle
)

// Infohash names a share: the CID (CIDv1, raw, sha2-256) of its manifest's
// canonical bytes. Its String form is what users copy between machines;
// ParseInfohash reads it back.
type Infohash = cid.Cid

// PeerID names a node: the libp2p peer ID derived from its key.
type PeerID = peer.ID

// FetchOptions say where a fetch writes, how long it looks for the share,
// and how long its download may go without receiving anything.
type FetchOptions struct {
	// Out is where the share ends up: the file, for a single-file share, or
	// the folder, for a folder share. It must not exist yet: Fetch checks
	// before it looks for the share, and refuses an existing Out with an
	// error that names it and wraps fs.ErrExist (a complete copy already
	// there is served with Seed, which verifies it). While the fetch runs the
	// content lives at Out+".p2pshare-part", with its progress in
	// Out+".p2pshare-state", recorded twice a second (for a share under 4
	// MiB, only when the fetch stops: fetching it again costs less than the
	// syncs); a fetch that finds them resumes, re-verifying what they
	// claim.
	Out string
	// LookupTimeout bounds the search for the share's manifest; past it
	// Fetch returns ErrNotFound. 0 means until ctx ends. It does not bound
	// the download.
	LookupTimeout time.Duration
	// StallTimeout bounds how long the download, once Fetch has returned,
	// may receive no piece data at all; past it the download stops and
	// Download.Wait returns an error that wraps ErrStalled and says what
	// the fetch was waiting for (see Waiting). Slow data is not a stall:
	// the clock restarts with every piece that arrives. 0 means no limit:
	// the fetch waits, and keeps looking for holders, until it completes
	// or ctx ends. It must not be negative.
	StallTimeout time.Duration
	// InMemory keeps the share's content in memory instead of at Out,
	// which must then be empty: none of it touches the disk (a quiz, say).
	// Download.Bytes returns it once complete, Reader as it arrives, and
	// the node seeds it from memory until the Download is closed. A share
	// over MemoryLimit is refused once its manifest is found, before any
	// of it is fetched, with an error that gives both sizes and wraps
	// ErrTooLargeForMemory. An in-memory fetch does not resume: what it
	// held is gone once it stops.
	InMemory bool
	// MemoryLimit bounds the size of a share fetched InMemory. 0 means
	// 64 MiB; it must not be negative.
	MemoryLimit int64
}

// DefaultMemoryLimit is the largest share a fetch keeps InMemory when
// FetchOptions.MemoryLimit is 0.
const DefaultMemoryLimit = 64 << 20

// ErrTooLargeForMemory is wrapped by Fetch's error for a share fetched
// InMemory that is larger than FetchOptions.MemoryLimit.
var ErrTooLargeForMemory = errors.New("p2pshare: share too large to fetch in memory")

// ErrStalled is wrapped by the error of a download that received no piece
// data for its FetchOptions.StallTimeout. The error's text says what the
// fetch waited for: no holder reachable, every holder banned, or linked
// holders that sent nothing. What it holds stays on disk, resumable.
var ErrStalled = swarm.ErrStalled

// ErrNotFound is returned (wrapped) by Fetch when no member offered the
// share's manifest before the context ended.
var ErrNotFound = errors.New("p2pshare: no member has this share")

// Fetch finds the share named by infohash and starts downloading it from
// every member that has it. It returns once the share's manifest is found
// and verified; with ErrNotFound if FetchOptions.LookupTimeout (or, without
// one, ctx) ends first; or with ctx's error if ctx is cancelled. The download goes on
// in the background until it completes, ctx ends, or it receives nothing
// for FetchOptions.StallTimeout (ErrStalled); once complete, the node
// seeds the share, regardless of ctx, until Download.Close, Stop or Close.
// A malformed infohash is ErrBadInfohash, a closed Swarm ErrClosed.
func (s *Swarm) Fetch(ctx context.Context, infohash Infohash, opts FetchOptions) (*Download, error) {
	if !infohash.Defined() {
		return nil, errorOf(ErrBadInfohash, nil, "Fetch: undefined infohash")
	}
	if _, err := manifest.ParseInfohash(infohash.String()); err != nil {
		return nil, public("Fetch", err)
	}
	switch {
	case opts.InMemory && opts.Out != "":
		return nil, fmt.Errorf("p2pshare: FetchOptions.Out %q and InMemory are both set: a fetch goes to disk or to memory", opts.Out)
	case opts.Out == "" && !opts.InMemory:
		return nil, errors.New("p2pshare: FetchOptions.Out is empty (set it, or InMemory)")
	case opts.StallTimeout < 0:
		return nil, fmt.Errorf("p2pshare: FetchOptions.StallTimeout %v is negative", opts.StallTimeout)
	case opts.MemoryLimit < 0:
		return nil, fmt.Errorf("p2pshare: FetchOptions.MemoryLimit %d is negative", opts.MemoryLimit)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// The destination is checked before the lookup, which can take as long
	// as LookupTimeout: a fetch that cannot write says so at once.
	if !opts.InMemory {
		if _, err := os.Lstat(opts.Out); err == nil {
			return nil, fmt.Errorf("p2pshare: FetchOptions.Out %s: %w", opts.Out, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("p2pshare: FetchOptions.Out: checking %s: %w", opts.Out, err)
		}
	}
	lctx, lcancel := ctx, context.CancelFunc(func() {})
	if opts.LookupTimeout > 0 {
		lctx, lcancel = context.WithTimeout(ctx, opts.LookupTimeout)
	}
	m, enc, from, err := s.resolve(lctx, infohash)
	lcancel()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("p2pshare: Fetch of %s stopped: %w", infohash, ctx.Err())
		}
		return nil, err
	}
	st, mem, err := openFetchStore(m, opts)
	if err != nil {
		return nil, err
	}
	se, err := s.start(swarm.Config{Manifest: m, Encoded: enc, Infohash: infohash, Storage: st, StallTimeout: opts.StallTimeout})
	if err != nil {
		st.Close()
		return nil, err
	}
	d := &Download{s: s, se: se, out: opts.Out, mem: mem}
	go d.watch(ctx)
	var first time.Duration
	if from != "" {
		// The member that served the manifest holds the share: trade with
		// it at once. It tells us of the others it trades with as the link
		// comes up, so the DHT is asked for providers only if the link
		// target is not met a little later.
		s.dialer(infohash)(peer.AddrInfo{ID: from, Addrs: s.h.Peerstore().Addrs(from)})
		first = providersAfterPEX
	}
	go s.findPeers(se, first)
	return d, nil
}

// resolve finds a share's manifest: from the DHT record, or from any
// provider, whichever answers first with bytes that match the infohash.
func (s *Swarm) resolve(ctx context.Context, ih cid.Cid) (*manifest.Manifest, []byte, peer.ID, error) {
	if se := s.session(ih); se != nil {
		return se.Manifest(), se.Encoded(), "", nil
	}
	type found struct {
		m    *manifest.Manifest
		enc  []byte
		from peer.ID // the provider that served it, if one did
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := make(chan found, 1)
	offer := func(m *manifest.Manifest, enc []byte, from peer.ID) {
		select {
		case res <- found{m, enc, from}:
		default:
		}
	}
	var lastErr error
	var mu sync.Mutex
	note := func(err error) {
		mu.Lock()
		lastErr = err
		mu.Unlock()
	}
	go func() {
		for wait := firstRetry; ctx.Err() == nil; wait = min(2*wait, lastRetry) {
			// The members this node is connected to, the DHT record and the
			// providers are asked at once; the first verified manifest wins
			// and ends the round.
			lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
			var round, asked sync.WaitGroup
			firstDone := make(chan struct{})
			for k, p := range s.neighbours(maxAskedNeighbours) {
				asked.Go(func() {
					if k > 0 {
						// The first neighbour, usually the teacher's
						// node, gets a head start: the others rarely
						// have the share, and a class resolving at once
						// would open three streams each to them for
						// nothing, at the moment the class is busiest.
						// They are asked as soon as it answers without
						// the manifest.
						select {
						case <-firstDone:
						case <-time.After(neighbourStagger):
						case <-lctx.Done():
							return
						}
					}
					m, enc, err := s.reg.FetchManifest(lctx, p, ih)
					if k == 0 && err != nil {
						close(firstDone)
					}
					switch {
					case err == nil:
						offer(m, enc, p)
					case !errors.Is(err, wire.ErrUnknownShare) && lctx.Err() == nil:
						note(err)
					}
				})
			}
			// The DHT is asked once the neighbours have all answered
			// without it, or after a head start: a class resolving at once
			// through the teacher then puts no load on the DHT.
			neighboursDone := make(chan struct{})
			go func() { asked.Wait(); close(neighboursDone) }()
			dhtTurn := func() bool {
				select {
				case <-neighboursDone:
				case <-time.After(neighbourHeadStart):
				}
				return lctx.Err() == nil
			}
			round.Go(func() {
				if !dhtTurn() {
					return
				}
				if enc, err := s.dht.GetManifest(lctx, ih); err == nil {
					if m, err := manifest.Decode(enc, manifest.MaxEncodedSize); err == nil {
						offer(m, enc, "")
					} else {
						note(err)
					}
				}
			})
			round.Go(func() {
				if !dhtTurn() {
					return
				}
				for ai := range s.dht.FindProviders(lctx, ih, 20) {
					if ai.ID == s.h.ID() {
						continue
					}
					if len(ai.Addrs) > 0 {
						s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
					}
					m, enc, err := s.reg.FetchManifest(lctx, ai.ID, ih)
					if err != nil {
						note(err)
						continue
					}
					offer(m, enc, ai.ID)
					return
				}
			})
			round.Wait()
			asked.Wait()
			lcancel()
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}()
	select {
	case f := <-res:
		return f.m, f.enc, f.from, nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		if lastErr != nil {
			return nil, nil, "", fmt.Errorf("%w: %s: %w (last error: %v)", ErrNotFound, ih, ctx.Err(), lastErr)
		}
		return nil, nil, "", fmt.Errorf("%w: %s: %w", ErrNotFound, ih, ctx.Err())
	}
}

// A lookup round asks the first maxAskedNeighbours connected members
// directly; rounds repeat after firstRetry, doubling up to lastRetry, until
// the manifest is found.
const (
	maxAskedNeighbours = 4
	firstRetry         = 100 * time.Millisecond
	lastRetry          = 2 * time.Second
)

// neighbourStagger is how long the first neighbour asked for a manifest
// has, at most, before the others are asked too.
const neighbourStagger = 100 * time.Millisecond

// neighbourHeadStart is how long the neighbours asked for a manifest have
// before the DHT is asked too (at once if they all answer without it). A
// class that starts together keeps the teacher's node busy: on a loaded
// machine it answered a quiz's 50 students in up to a second. A student
// that walked the DHT meanwhile connected to much of the class, which
// cost every node more CPU and so slowed the teacher further: at 250 ms a
// quiz to 50 took 4.5–13 s (per leecher up to 46 connections), at 1 s
// 3.9–6.6 s (up to 24).
const neighbourHeadStart = time.Second

// providersAfterPEX is how long a fetch that reached a member holding the
// share waits for peer exchange before it asks the DHT for providers: as
// for neighbourHeadStart, long enough for a busy holder to answer.
const providersAfterPEX = 2 * time.Second

// neighbours returns up to n members this node is connected to, the ones it
// joined through first. In a class the teacher's node, which shares, is
// usually the one every member joined through, so asking it is one round
// trip where the DHT walks several hops, and fifty members resolving at
// once put no load on the DHT.
func (s *Swarm) neighbours(n int) []peer.ID {
	var out []peer.ID
	add := func(p peer.ID) {
		if len(out) < n && p != s.h.ID() && !slices.Contains(out, p) &&
			s.h.Network().Connectedness(p) == network.Connected && s.IsMember(p) {
			out = append(out, p)
		}
	}
	for _, ai := range s.bootPeers {
		add(ai.ID)
	}
	for _, p := range s.h.Network().Peers() {
		add(p)
	}
	return out
}

func (s *Swarm) session(ih cid.Cid) *swarm.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[ih.KeyString()]
}

// Download is a fetch in progress, and then the share it fetched, seeded.
type Download struct {
	s   *Swarm
	se  *swarm.Session
	out string
	mem *storage.Memory // the content of an InMemory fetch; nil on disk
	err error
	mu  sync.Mutex
}

// watch stops an unfinished download when its context ends.
func (d *Download) watch(ctx context.Context) {
	select {
	case <-d.se.Complete():
	case <-d.se.Done():
	case <-ctx.Done():
		select {
		case <-d.se.Complete():
			return
		default:
		}
		d.mu.Lock()
		d.err = fmt.Errorf("p2pshare: fetch of %s stopped: %w", d.se.Infohash(), ctx.Err())
		d.mu.Unlock()
		d.se.Close()
	}
}

// Infohash names the share.
func (d *Download) Infohash() Infohash { return d.se.Infohash() }

// Name is the share's name: its file's or folder's base name.
func (d *Download) Name() string { return d.se.Manifest().Name }

// Size is the share's content size in bytes.
func (d *Download) Size() int64 { return d.se.Manifest().TotalSize() }

// Path is where the share ends up, FetchOptions.Out; "" for a fetch
// InMemory.
func (d *Download) Path() string { return d.out }

// Progress is a snapshot of the download now.
func (d *Download) Progress() Progress { return d.se.Progress() }

// Events returns a new channel of the download's events from now on. A
// consumer that falls behind loses events: progress, piece and peer events
// first (they keep headroom free), then any. Wait, not EventComplete, is the
// reliable way to learn the outcome. The channel closes when the download
// stops.
func (d *Download) Events() <-chan Event { return d.se.Subscribe() }

// Wait blocks until the download completes (nil), fails, or ctx ends.
func (d *Download) Wait(ctx context.Context) error {
	select {
	case <-d.se.Complete():
		return nil
	case <-d.se.Done():
		select {
		case <-d.se.Complete():
			return nil
		default:
		}
		d.mu.Lock()
		err := d.err
		d.mu.Unlock()
		if err == nil {
			err = d.se.Err()
		}
		if err == nil {
			err = fmt.Errorf("p2pshare: fetch of %s stopped", d.se.Infohash())
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the download, or stops seeding it once complete. A partial
// download stays on disk, resumable; one fetched InMemory is dropped
// (Bytes still returns a complete one).
func (d *Download) Close() error { return d.se.Close() }
