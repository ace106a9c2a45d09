// Package p2pshare hands one large file or folder to a whole class at once by
// making every receiver a sender too. A node joins a network, shares content
// under its infohash, and fetches others' content from many members at once,
// verifying every piece, serving what it holds to the rest of the class while
// it downloads, and seeding after it finishes. Members find each other and
// the shares' metadata through a private Kademlia DHT: there is no tracker.
//
// The first node of a network (started with Config.NewNetwork) is its
// bootstrap node: it holds the network's CA and invites the others
// (Swarm.Invite). Every other node joins with an invite (Config.Invite)
// the first time, and from then on with the membership it keeps in
// Config.DataDir.
package p2pshare

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"

	"github.com/p2pshare/p2pshare/internal/discovery"
	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

// Swarm is a running p2pshare node: a libp2p host, its place in the
// network's DHT, and the shares it serves and fetches. Its methods are safe
// for concurrent use.
type Swarm struct {
	cfg      Config
	log      *slog.Logger
	h        host.Host
	dht      *discovery.DHT
	net      *memberNet
	reg      *swarm.Registry
	up, down *rate.Limiter
	upTurn   chan struct{} // the sessions' uploaders take turns for up's tokens
	flight   *swarm.Flight // with no upload cap: what the sessions sent, not yet heard delivered
	ctx      context.Context
	cancel   context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*swarm.Session
	closed   bool
	dials    chan struct{} // a slot per dial in flight
	// bootPeers are the contacts the node joined through; a member renews
	// its certificate through whichever of them is the bootstrap.
	bootPeers []peer.AddrInfo
	// class is the teacher's view of the class (classstatus.go).
	class *classStatus
	key   crypto.PrivKey // the node's identity, which its messages are signed and sealed with
	msg   *messenger
	dir   *directory // the bootstrap's member directory; nil on a member
	// opened counts connections as they open (connsopened.go); it
	// watches the host from before the node's first connection.
	opened *connsOpened
	store  *nodeStore // DHT records and parked messages (datastore.go)
}

// New starts a node: the bootstrap of a new network (Config.NewNetwork),
// or a member that joins its network through the invite's bootstrap, the
// contacts kept in DataDir and Config.BootstrapPeers; it fails if none of
// them can be reached. Its errors that a
// program can act on wrap ErrBadInvite, ErrInviteExpired, ErrWrongNetwork,
// ErrRevoked, or ErrRefused (a *RefusedError with the bootstrap's reason,
// which may wrap ErrInviteUsedUp, ErrNameTaken or ErrInviteExpired too).
func New(ctx context.Context, cfg Config) (*Swarm, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = defaultLogger()
	}
	key, err := nodeKey(&cfg)
	if err != nil {
		return nil, err
	}
	store, err := openStore(&cfg, log)
	if err != nil {
		return nil, err
	}
	boot, _ := cfg.bootstrap()
	keep := memberKeep
	if startsAsBootstrap(&cfg) {
		keep = 0 // the bootstrap serves the class: it keeps all it can carry
	}
	h, gate, err := openHost(&cfg, key, keep)
	if err != nil {
		_ = store.shut()
		return nil, err
	}
	opened := &connsOpened{}
	opened.watch(h.Network())
	nw, err := openNetwork(ctx, &cfg, key, log, h)
	if err != nil {
		opened.stop()
		closeHost(&cfg, h, nil)
		_ = store.shut()
		return nil, err
	}
	gate.set(nw.m.Gater())
	boot = append(boot, nw.joinVia...)
	// The contacts a member joins through (the bootstrap, usually) stay
	// connected: it reports its status there, renews its certificate
	// there, and asks there first for a share's manifest.
	for _, ai := range boot {
		h.ConnManager().Protect(ai.ID, bootstrapTag)
	}
	fail := func(err error) (*Swarm, error) {
		opened.stop()
		closeHost(&cfg, h, boot)
		nw.close()
		_ = store.shut()
		return nil, err
	}
	if err := nw.attach(h); err != nil {
		return fail(err)
	}
	// The DHT's first refresh waits while this node fetches; the sessions
	// it asks about exist once the Swarm does.
	var sessions atomic.Pointer[swarm.Registry]
	fetching := func() bool { r := sessions.Load(); return r != nil && r.Fetching() }
	d, err := discovery.New(nw.m.Guard(h), discovery.Options{
		Busy:      fetching,
		Bootstrap: boot, ProvideInterval: cfg.ProvideInterval, Log: log, Filter: nw.m.IsMember,
		Validators: map[string]record.Validator{crlNS: nw.crl, memberNS: memberValidator{nw.m}},
		Replicas:   cfg.Replicas, Republish: cfg.Republish, Store: store.dht, Charges: store.charges,
	})
	if errors.Is(err, discovery.ErrStoreRead) {
		return fail(fmt.Errorf("p2pshare: %s: %w", store.where, err))
	}
	if err != nil {
		return fail(fmt.Errorf("p2pshare: %w", err))
	}
	nw.dht.Store(d)
	// Members already met (the bootstrap, over the connection this node's
	// admission opened) were identified before the DHT existed, so it did
	// not see them; those met from now on are offered by OnAdmit.
	for _, p := range nw.m.Members() {
		d.TryAdd(p)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Swarm{
		cfg: cfg, log: log, h: h, dht: d, net: nw, store: store,
		reg:    swarm.NewRegistry(h, log, nw.m.Allow),
		up:     limiter(cfg.UploadLimit),
		upTurn: swarm.NewUpTurn(),
		flight: swarm.NewFlight(),
		down:   limiter(cfg.DownloadLimit),
		ctx:    sctx, cancel: cancel,
		sessions:  map[string]*swarm.Session{},
		dials:     make(chan struct{}, 16),
		bootPeers: boot,
		key:       key,
		opened:    opened,
	}
	// A peer that keeps wasting piece streams is blocked at the connection.
	sessions.Store(s.reg)
	s.reg.SetBlock(nw.m.Block)
	// A peer this node heard of (peer exchange, a provider record, a
	// lookup) is traded with only once it proved itself a member.
	s.reg.SetScreen(nw.m.AwaitMember)
	// Every protocol handler is set before the node's first connection: a
	// handler set later makes identify push the node's new protocol list
	// to every peer it is connected to, which in a class joining at once
	// is the bootstrap, once per handler per student.
	if err := s.openMessages(); err != nil {
		s.Close()
		return nil, err
	}
	jctx := ctx
	if len(boot) > 0 {
		t := cfg.JoinTimeout
		if t == 0 {
			t = defaultJoinTimeout
		}
		var cancel context.CancelFunc
		jctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := d.Join(jctx); err != nil {
		s.Close()
		return nil, public("joining the network", err)
	}
	// Revocation lists live in the DHT too: fetch the newest now, store
	// every newer one this node learns of.
	publish := s.publishCRL
	nw.onCRL.Store(&publish)
	// A node admitted just now got the bootstrap's newest CRL with its
	// certificate; any other asks the DHT for it.
	if len(boot) > 0 && !nw.admitted {
		s.fetchCRL(ctx)
	}
	s.publishCRL()
	if cfg.Coordinator && nw.boot == nil {
		if err := s.becomeCoordinator(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.startCoordRenewal()
	s.startDirectory()
	s.startMessages()
	s.class = startClassStatus(s)
	s.renewIfDue(ctx)
	s.keepCRLCurrent(ctx)
	go s.renewLoop()
	return s, nil
}

// memberKeep is how many connections a member keeps open when idle, beside
// its piece links and its bootstrap contact, which are protected: a few
// warm DHT contacts. Joining and lookups connect a member to much of the
// class; without a trim a class of 50 kept a full mesh (53-63 connections
// each) long after its quiz, and a class of 1000 would keep 500,000.
const memberKeep = 8

// bootstrapTag protects a member's connections to the contacts it joined
// through.
const bootstrapTag = "p2pshare-bootstrap"

// identity is the node's key: own (Config.Identity) if set, else the one
// kept in dir, else a fresh one.
func identity(dir string, own crypto.PrivKey) (crypto.PrivKey, error) {
	if own != nil {
		return own, ownIdentity(dir, own)
	}
	if dir == "" {
		k, _, err := crypto.GenerateEd25519Key(crand.Reader)
		return k, err
	}
	k, err := ihost.LoadOrCreateKey(filepath.Join(dir, "identity.key"))
	if err != nil {
		return nil, fmt.Errorf("p2pshare: Config.DataDir: %w", err)
	}
	return k, nil
}

// ownIdentity refuses a DataDir that keeps another key than own: the
// membership kept beside it is that key's peer's.
func ownIdentity(dir string, own crypto.PrivKey) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, "identity.key")
	if !exists(path) {
		return nil
	}
	kept, err := ihost.LoadOrCreateKey(path)
	if err != nil {
		return fmt.Errorf("p2pshare: Config.DataDir: %w", err)
	}
	if !kept.Equals(own) {
		ownID, _ := peer.IDFromPrivateKey(own)
		keptID, _ := peer.IDFromPrivateKey(kept)
		return fmt.Errorf("p2pshare: Config.Identity is peer %s, but Config.DataDir %s keeps the identity of peer %s (%s): its membership is that peer's; give another DataDir", ownID, dir, keptID, path)
	}
	return nil
}

// limiter returns a token bucket of bytesPerSec with a burst of 20 ms of it
// (at least 16 KiB), or nil for no cap. The burst is what a node that was
// idle may send beyond its cap; kept small, the cap holds over any window a
// class measures (a 4 MiB class with a 256 KiB burst per node finished 2 %
// under the bound its caps allow).
func limiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSec), int(max(bytesPerSec/50, 16<<10)))
}

// ID is the node's peer ID.
func (s *Swarm) ID() PeerID { return s.h.ID() }

// AddrInfo is the node's peer ID and the addresses it listens on: what
// another node puts in Config.BootstrapPeers to reach the network through
// this one.
func (s *Swarm) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: s.h.ID(), Addrs: s.h.Addrs()}
}

// Addrs are the node's addresses, each ending in /p2p/<peer ID>: the form
// a user copies (peer.AddrInfosFromP2pAddrs reads them back).
func (s *Swarm) Addrs() []ma.Multiaddr {
	info := s.AddrInfo()
	full, err := peer.AddrInfoToP2pAddrs(&info)
	if err != nil {
		return nil
	}
	return full
}

// Close stops every share and fetch and shuts the node down, and its host
// too unless it came in Config.Host (then it only leaves it). Partial
// downloads stay on disk, resumable (those fetched InMemory are gone).
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := s.sessions
	s.sessions = nil
	s.mu.Unlock()
	if s.msg != nil {
		s.msg.drain()
	}
	s.cancel()
	s.class.close()
	if s.msg != nil {
		s.msg.seen.close()
	}
	for _, se := range sessions {
		_ = se.Close()
	}
	s.reg.Close()
	s.opened.stop()
	err := s.dht.Close()
	if herr := closeHost(&s.cfg, s.h, s.bootPeers); err == nil {
		err = herr
	}
	s.net.close()
	if serr := s.store.shut(); err == nil {
		err = serr
	}
	return err
}

// start opens a session for a share and makes it reachable and announced.
func (s *Swarm) start(cfg swarm.Config) (*swarm.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	k := cfg.Infohash.KeyString()
	if old, ok := s.sessions[k]; ok {
		select {
		case <-old.Done(): // stopped; its goroutine just has not removed it yet
		default:
			return nil, fmt.Errorf("p2pshare: share %s is already open on this node", cfg.Infohash)
		}
	}
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	cfg.Self = s.h.ID()
	cfg.Up, cfg.Down, cfg.UpTurn = s.up, s.down, s.upTurn
	cfg.Flight, cfg.FlightTimeout = s.flight, s.cfg.flightTimeout
	cfg.HaveDelay = s.cfg.haveDelay
	cfg.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	cfg.Log = s.log
	cfg.Addrs = s.h.Peerstore().Addrs
	cfg.Member = s.net.m.IsMember
	cfg.Dial = s.dialer(cfg.Infohash)
	cfg.Conns = s.h.ConnManager()
	se, err := swarm.New(s.ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	if err := s.reg.Add(se); err != nil {
		se.Close()
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	s.sessions[k] = se
	s.class.add(se)
	go func() {
		// A member announces itself as a provider once it has a piece to
		// give: before that a lookup that finds it finds nothing, and when
		// a whole class starts a fetch at one instant, fifty
		// announcements at once would only slow the first pieces down.
		// A share opened whole (a seed) is announced at once.
		wait := provideAfterHolding + rand.N(provideSpread)
		if !se.Wanted() {
			wait = 0
		}
		select {
		case <-se.Holding():
			select {
			case <-time.After(wait):
				s.dht.Provide(cfg.Infohash)
			case <-se.Done():
			}
		case <-se.Done():
		}
		<-se.Done()
		if err := se.Err(); errors.Is(err, storage.ErrChanged) {
			// Serving on would have every member reject (and ban) this
			// node; the program's user must hear why it stopped.
			s.log.Error("stopped serving a share: its file changed on disk", "infohash", cfg.Infohash, "err", err)
		}
		s.dht.StopProviding(cfg.Infohash)
		s.dht.UnpublishManifest(cfg.Infohash)
		s.mu.Lock()
		if s.sessions != nil && s.sessions[k] == se {
			delete(s.sessions, k)
		}
		s.mu.Unlock()
	}()
	return se, nil
}

// A fetch announces itself as a provider after it has held pieces for
// provideAfterHolding and a random part of provideSpread. Provider records
// serve members that come later; those that start with it find it through
// the seeder's peer exchange. The spread keeps a class that started at one
// instant from announcing at one instant too: each announcement is a DHT
// lookup and twenty stores, and fifty of them at once took 6 % of the two
// cores in the quiz as processes at -scale 0.25, in the last second of the
// fetch.
const (
	provideAfterHolding = 2 * time.Second
	provideSpread       = 8 * time.Second
)

// dialer returns the session's way to connect to peers it heard of from
// other peers; at most 16 dials run at once per node.
func (s *Swarm) dialer(ih cid.Cid) func(peer.AddrInfo) bool {
	return func(ai peer.AddrInfo) bool {
		select {
		case s.dials <- struct{}{}:
		default:
			return false // busy; the session asks again on its next tick
		}
		go func() {
			defer func() { <-s.dials }()
			se := s.session(ih)
			if se == nil {
				return
			}
			s.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
			if err := s.reg.Connect(s.ctx, se, ai.ID); err != nil {
				s.log.Debug("connecting to exchanged peer", "peer", ai.ID, "err", err)
			}
		}()
		return true
	}
}

// Progress reports the progress of a share this node serves or fetches
// (for a seeder, how much it has uploaded), and false if it has none open
// under that infohash.
func (s *Swarm) Progress(infohash Infohash) (Progress, bool) {
	se := s.session(infohash)
	if se == nil {
		return Progress{}, false
	}
	return se.Progress(), true
}

// Stop stops serving (and fetching) a share. Its files stay on disk.
func (s *Swarm) Stop(infohash Infohash) error {
	s.mu.Lock()
	se := s.sessions[infohash.KeyString()]
	s.mu.Unlock()
	if se == nil {
		return fmt.Errorf("p2pshare: share %s is not open on this node", infohash)
	}
	return se.Close()
}

// ParseInfohash parses an infohash from its string form, refusing anything
// that is not a p2pshare infohash with an error that says why and wraps
// ErrBadInfohash.
func ParseInfohash(s string) (Infohash, error) {
	ih, err := manifest.ParseInfohash(s)
	if err != nil {
		return ih, public("", err)
	}
	return ih, nil
}
