package swarm

import "github.com/libp2p/go-libp2p/core/peer"

// Protector keeps connections open: libp2p's connection manager does not
// trim a peer protected under any tag. It must not block.
type Protector interface {
	Protect(p peer.ID, tag string)
	Unprotect(p peer.ID, tag string) bool
}

// protect keeps p's connection open while the session has a link with it,
// under a tag of the session's own: a peer trading two shares with this
// node stays protected until both links are down.
func (s *Session) protect(p peer.ID) {
	if s.cfg.Conns != nil {
		s.cfg.Conns.Protect(p, s.protectTag())
	}
}

func (s *Session) unprotect(p peer.ID) {
	if s.cfg.Conns != nil {
		s.cfg.Conns.Unprotect(p, s.protectTag())
	}
}

// protectTag names the session's protections: p2pshare-link/<infohash>.
func (s *Session) protectTag() string { return "p2pshare-link/" + s.cfg.Infohash.String() }
