package membership

import "errors"

// Named errors. Every error this package returns wraps one of these, with the
// offending value in its text, so callers can test with errors.Is and users
// can read what was wrong.
var (
	// ErrMessageTooLarge: a frame's declared length is above the limit for
	// its kind; nothing of that size is allocated.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrMalformed: bytes from the network or disk do not decode.
	ErrMalformed = errors.New("malformed")
	// ErrBadInvite: an invite string does not parse.
	ErrBadInvite = errors.New("bad invite")
	// ErrWrongCA: a certificate, CRL or bootstrap belongs to another network.
	ErrWrongCA = errors.New("wrong network CA")
	// ErrBadChallenge: a bootstrap's challenge signature does not verify.
	ErrBadChallenge = errors.New("bad admission challenge")
	// ErrExpired: a certificate, token or invite is past its expiry.
	ErrExpired = errors.New("expired")
	// ErrRevoked: a certificate or peer is listed in the network's CRL.
	ErrRevoked = errors.New("revoked")
	// ErrPeerMismatch: a certificate does not bind the peer that presented it.
	ErrPeerMismatch = errors.New("certificate is for another peer")
	// ErrRefused: the bootstrap refused an admission; the error's text
	// carries its reason.
	ErrRefused = errors.New("admission refused")
	// ErrNoCredential: a peer sent no member certificate before the deadline.
	ErrNoCredential = errors.New("no member certificate")
	// ErrStaleCRL: a CRL is not newer than the one already held.
	ErrStaleCRL = errors.New("CRL is not newer")
	// ErrBadName: a name may not be given to a newcomer (name.go says
	// which names may); the error names the character and its position.
	ErrBadName = errors.New("name not allowed")
	// ErrNotMember: a peer this node reached out to did not prove itself
	// a member (Guard's NewStream).
	ErrNotMember = errors.New("not a proven member")
)
