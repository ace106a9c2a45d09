package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// handshakeTimeout bounds the Hello exchange and a manifest request.
const handshakeTimeout = 10 * time.Second

// Registry holds a node's sessions and serves the piece-exchange and manifest
// protocols for them on the node's host.
type Registry struct {
	h   host.Host
	log *slog.Logger
	// Allow, if set, is asked before any stream is served; the membership
	// layer plugs in here.
	allow func(peer.ID) bool

	mu       sync.Mutex
	screen   func(context.Context, peer.ID) bool // see SetScreen
	sessions map[string]*Session
	block    func(peer.ID, time.Time) // see SetBlock
	wasted   linkRate                 // streams a peer opened for nothing
}

// A peer may open wastedBurst piece streams for nothing — refused because a
// session banned it, or ended before their Hello — and one more each
// wastedEvery; beyond that the registry blocks it at the connection level
// (see SetBlock). An honest peer wastes a stream when its connection breaks
// during a handshake.
const (
	wastedBurst = 16
	wastedEvery = 10 * time.Second
)

// SetBlock gives the registry a way to refuse a peer at the connection level
// until a time, closing its connections (the membership layer's Block). The
// registry uses it on a peer that keeps opening piece streams for nothing:
// each costs this node a stream and a handshake's work, and the peer
// little.
func (r *Registry) SetBlock(block func(p peer.ID, until time.Time)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.block = block
}

// SetScreen gives the registry the test of a peer this node opens a
// stream to (the membership layer's AwaitMember): Connect and
// FetchManifest send their request at once, but read the answer, and
// attach a link, only once screen said yes. A peer heard of through peer
// exchange, a provider record or a lookup may be no member at all; its
// answer is thrown away and it is told nothing more. Nil (the default)
// trusts every peer.
func (r *Registry) SetScreen(screen func(ctx context.Context, p peer.ID) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.screen = screen
}

// ErrNotMember is what Connect and FetchManifest return for a peer that
// the screen (SetScreen) refused.
var ErrNotMember = errors.New("not a proven member")

// screened is nil if the screen passes p, else the error that says so.
func (r *Registry) screened(ctx context.Context, p peer.ID) error {
	r.mu.Lock()
	screen := r.screen
	r.mu.Unlock()
	if screen == nil || screen(ctx, p) {
		return nil
	}
	return fmt.Errorf("swarm: peer %s: %w", p, ErrNotMember)
}

// waste counts a piece stream p opened for nothing, and blocks p at the
// connection level once it wasted more than its rate allows.
func (r *Registry) waste(p peer.ID, why string) {
	now := time.Now()
	r.mu.Lock()
	ok := r.wasted.allow(p, now)
	block := r.block
	r.mu.Unlock()
	if ok || block == nil {
		return
	}
	r.log.Warn("peer keeps opening piece streams for nothing; blocked", "peer", p, "why", why, "for", penaltyFor)
	block(p, now.Add(penaltyFor))
}

// NewRegistry serves both protocols on h. allow (nil: everyone) screens the
// remote peer of every stream before anything is read from it.
func NewRegistry(h host.Host, log *slog.Logger, allow func(peer.ID) bool) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{h: h, log: log, allow: allow, sessions: map[string]*Session{},
		wasted: linkRate{last: map[peer.ID]*rate.Limiter{}, every: wastedEvery, burst: wastedBurst},
	}
	h.SetStreamHandler(wire.Protocol, r.handlePieces)
	h.SetStreamHandler(wire.ManifestProtocol, r.handleManifest)
	return r
}

// Close stops serving the protocols.
func (r *Registry) Close() {
	r.h.RemoveStreamHandler(wire.Protocol)
	r.h.RemoveStreamHandler(wire.ManifestProtocol)
}

// Add makes a session reachable by its infohash. Adding a second session for
// one infohash is an error.
func (r *Registry) Add(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := s.Infohash().KeyString()
	if old, ok := r.sessions[k]; ok {
		select {
		case <-old.Done(): // stopped, not yet removed
		default:
			return fmt.Errorf("swarm: share %s is already open", s.Infohash())
		}
	}
	r.sessions[k] = s
	go func() {
		<-s.Done()
		r.mu.Lock()
		if r.sessions[k] == s {
			delete(r.sessions, k)
		}
		r.mu.Unlock()
	}()
	return nil
}

// Get returns the open session of a share, if any.
func (r *Registry) Get(c cid.Cid) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[c.KeyString()]
}

// Fetching reports whether an open session still misses pieces.
func (r *Registry) Fetching() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		select {
		case <-s.Done():
		default:
			if s.Wanted() {
				return true
			}
		}
	}
	return false
}

func (r *Registry) allowed(p peer.ID) bool { return r.allow == nil || r.allow(p) }

func (r *Registry) handleManifest(st network.Stream) {
	defer st.Close()
	if !r.allowed(st.Conn().RemotePeer()) {
		_ = st.Reset()
		return
	}
	_ = st.SetDeadline(time.Now().Add(handshakeTimeout))
	ih, err := wire.ReadManifestRequest(st)
	if err != nil {
		_ = st.Reset()
		return
	}
	var enc []byte
	if c, err := cid.Cast(ih); err == nil {
		if s := r.Get(c); s != nil {
			enc = s.Encoded()
		}
	}
	if err := wire.WriteManifestResponse(st, enc); err != nil {
		_ = st.Reset()
	}
}

// FetchManifest asks peer p for the manifest of c and returns it decoded and
// checked against c.
func (r *Registry) FetchManifest(ctx context.Context, p peer.ID, c cid.Cid) (*manifest.Manifest, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	st, err := ihost.OpenStream(ctx, r.h, p, wire.ManifestProtocol)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	if err := wire.WriteManifestRequest(st, c.Bytes()); err != nil {
		_ = st.Reset()
		return nil, nil, err
	}
	_ = st.CloseWrite()
	if err := r.screened(ctx, p); err != nil {
		_ = st.Reset()
		return nil, nil, err
	}
	enc, err := wire.ReadManifestResponse(st, manifest.MaxEncodedSize)
	if err != nil {
		_ = st.Reset()
		return nil, nil, err
	}
	if err := manifest.VerifyInfohash(c, enc); err != nil {
		return nil, nil, fmt.Errorf("swarm: peer %s sent a manifest that is not %s: %w", p, c, err)
	}
	m, err := manifest.Decode(enc, manifest.MaxEncodedSize)
	if err != nil {
		return nil, nil, fmt.Errorf("swarm: manifest from %s: %w", p, err)
	}
	return m, enc, nil
}

// handlePieces accepts a piece-exchange stream: read the Hello, find the
// session, answer, and hand the stream to it.
func (r *Registry) handlePieces(st network.Stream) {
	p := st.Conn().RemotePeer()
	if !r.allowed(p) {
		_ = st.Reset()
		return
	}
	_ = st.SetDeadline(time.Now().Add(handshakeTimeout))
	rd := wire.NewReader(st, wire.Limits{})
	m, err := rd.Read()
	if err != nil || m.Type != wire.Hello {
		_ = st.Reset()
		r.waste(p, "no hello")
		return
	}
	c, err := cid.Cast(m.Data)
	var s *Session
	if err == nil {
		s = r.Get(c)
	}
	if s == nil || s.Banned(p) {
		reason := "unknown share"
		if s != nil {
			reason = "banned"
		}
		w := wire.NewWriter(st)
		_ = w.Write(wire.Msg{Type: wire.Refuse, Data: []byte(reason)}, wire.Limits{})
		_ = w.Flush()
		_ = st.Close()
		if s != nil {
			r.waste(p, "banned")
		}
		return
	}
	w := wire.NewWriter(st)
	if err := w.Write(wire.Msg{Type: wire.Hello, Data: c.Bytes()}, s.limits); err != nil || w.Flush() != nil {
		_ = st.Reset()
		return
	}
	_ = st.SetDeadline(time.Time{})
	rd.SetLimits(s.limits)
	s.attach(p, st, false, rd, w)
}

// Connect opens a piece-exchange stream to p for session s. It returns once
// the link is up, or the error that stopped it.
func (r *Registry) Connect(ctx context.Context, s *Session, p peer.ID) error {
	if p == r.h.ID() {
		return errors.New("swarm: not connecting to self")
	}
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	st, err := ihost.OpenStream(ctx, r.h, p, wire.Protocol)
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	w := wire.NewWriter(st)
	if err := w.Write(wire.Msg{Type: wire.Hello, Data: s.Infohash().Bytes()}, s.limits); err != nil || w.Flush() != nil {
		_ = st.Reset()
		return fmt.Errorf("swarm: hello to %s: %v", p, err)
	}
	// The Hello travels with the proof the connection runs: a peer not
	// proven a member by the time its answer is read gets no link, no
	// bitfield and no request, and is never named to anyone.
	if err := r.screened(ctx, p); err != nil {
		_ = st.Reset()
		return err
	}
	rd := wire.NewReader(st, s.limits)
	m, err := rd.Read()
	if err != nil {
		_ = st.Reset()
		return fmt.Errorf("swarm: hello from %s: %w", p, err)
	}
	switch {
	case m.Type == wire.Refuse:
		_ = st.Reset()
		return fmt.Errorf("swarm: %s refused: %q", p, m.Data)
	case m.Type != wire.Hello || string(m.Data) != string(s.Infohash().Bytes()):
		_ = st.Reset()
		return fmt.Errorf("swarm: %s answered %v for another share", p, m.Type)
	}
	_ = st.SetDeadline(time.Time{})
	s.attach(p, st, true, rd, w)
	return nil
}

// attach starts a link on a stream whose handshake is done, with the reader
// and writer the handshake used (each holds a buffer worth reusing).
func (s *Session) attach(p peer.ID, st network.Stream, outbound bool, rd *wire.Reader, w *wire.Writer) {
	l := newLink(s, p, st, outbound)
	l.w = w
	select {
	case s.events <- event{kind: evLinkUp, l: l}:
		l.start(rd)
	case <-s.ctx.Done():
		_ = st.Reset()
	}
}
