package p2pshare

import (
	"errors"
	"fmt"
	"strings"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/membership"
	"github.com/p2pshare/p2pshare/internal/storage"
)

// The errors a program can act on. Every error of this package that is a
// case of one of them wraps it, so errors.Is finds it; the error's own text
// says what was wrong and with what value. ErrNotFound and ErrStalled
// (Fetch), and a FetchOptions.Out that exists (wrapping fs.ErrExist), are
// further cases.
var (
	// ErrBadInvite: Config.Invite (or ParseInvite's argument) is not an
	// invite: cut short, mistyped, or from another program.
	ErrBadInvite = errors.New("p2pshare: bad invite")
	// ErrInviteExpired: the invite is past its expiry; a new one is needed.
	ErrInviteExpired = errors.New("p2pshare: invite expired")
	// ErrInviteUsedUp: the invite admits no one any more — every use of it
	// is spent, the bootstrap cancelled it, or does not know it; a new one
	// is needed.
	ErrInviteUsedUp = errors.New("p2pshare: invite used up")
	// ErrRefused: the bootstrap refused to admit this node. Every refusal
	// is a *RefusedError, which holds the bootstrap's reason; a refusal for
	// a reason a program can act on also wraps ErrInviteExpired,
	// ErrInviteUsedUp or ErrNameTaken.
	ErrRefused = errors.New("p2pshare: admission refused")
	// ErrNameTaken: the member name asked for (Config.Name) is held by
	// another peer, or kept for a revoked one. A member that lost its
	// DataDir is another peer now: the bootstrap must release its old
	// name, or the member must start again from the old DataDir.
	ErrNameTaken = errors.New("p2pshare: name taken")
	// ErrWrongNetwork: two things that must belong to one network do not:
	// the invite's bootstrap proves another network's CA than the invite
	// names, or Config.DataDir holds the membership of another network than
	// Config.Invite's.
	ErrWrongNetwork = errors.New("p2pshare: wrong network")
	// ErrRevoked: this node was revoked from the network: the revocation
	// list it keeps in DataDir lists its certificate.
	ErrRevoked = errors.New("p2pshare: revoked")
	// ErrBadInfohash: a string or Infohash is not a p2pshare infohash.
	ErrBadInfohash = errors.New("p2pshare: bad infohash")
	// ErrClosed: the Swarm was closed.
	ErrClosed = errors.New("p2pshare: swarm is closed")
	// ErrMismatch: content on disk that Seed was to serve is not the
	// share's: a file of another size, or pieces whose hashes differ. The
	// error says how many pieces matched and which was the first that did
	// not.
	ErrMismatch = errors.New("p2pshare: content does not match the share")
	// ErrNotBootstrap: only the network's bootstrap node does this (make
	// invites, revoke, see the class).
	ErrNotBootstrap = errors.New("p2pshare: not the network's bootstrap node")
)

// apiError is an error of this package: its own text, free of the chain
// of internal packages its cause went through, wrapping the sentinel above
// it is a case of and the cause, so errors.Is finds both.
type apiError struct {
	text        string
	kind, cause error // either may be nil
}

func (e *apiError) Error() string { return e.text }

func (e *apiError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// errorOf is an apiError of kind whose text is "p2pshare: " and the
// formatted detail.
func errorOf(kind, cause error, format string, args ...any) error {
	return &apiError{text: "p2pshare: " + fmt.Sprintf(format, args...), kind: kind, cause: cause}
}

// RefusedError is the bootstrap's refusal to admit this node. It wraps
// ErrRefused and, when the reason is one a program can act on,
// ErrInviteExpired, ErrInviteUsedUp or ErrNameTaken.
type RefusedError struct {
	// Reason is the bootstrap's own words, e.g. `name "s1234" is already
	// held by peer 12D3KooW…`.
	Reason string
	kind   error // nil, or a sentinel above
}

func (e *RefusedError) Error() string {
	return "p2pshare: the bootstrap refused to admit this node: " + e.Reason
}

func (e *RefusedError) Unwrap() []error {
	if e.kind == nil {
		return []error{ErrRefused}
	}
	return []error{ErrRefused, e.kind}
}

// publicKinds map the internal packages' sentinels to this package's.
var publicKinds = []struct{ internal, public error }{
	{membership.ErrBadInvite, ErrBadInvite},
	{membership.ErrUsedUp, ErrInviteUsedUp},
	{membership.ErrNameTaken, ErrNameTaken},
	{membership.ErrRevoked, ErrRevoked},
	{membership.ErrWrongCA, ErrWrongNetwork},
	{manifest.ErrBadInfohash, ErrBadInfohash},
	{storage.ErrMismatch, ErrMismatch},
}

// public turns an error from an internal package into one of this
// package's: it wraps err and the public sentinel matching one of err's
// (if any), and reads "p2pshare: " + context + ": " + err's text without
// its internal package names. A refusal becomes a *RefusedError.
func public(context string, err error) error {
	var r *membership.RefusalError
	if errors.As(err, &r) {
		pe := &RefusedError{Reason: r.Reason}
		switch {
		case errors.Is(err, membership.ErrExpired):
			pe.kind = ErrInviteExpired
		case errors.Is(err, membership.ErrUsedUp):
			pe.kind = ErrInviteUsedUp
		case errors.Is(err, membership.ErrNameTaken):
			pe.kind = ErrNameTaken
		}
		return pe
	}
	if context != "" {
		context += ": "
	}
	e := &apiError{text: "p2pshare: " + context + internalText(err), cause: err}
	for _, k := range publicKinds {
		if errors.Is(err, k.internal) {
			e.kind = k.public
			break
		}
	}
	return e
}

// internalPackages name themselves at the start of their errors' texts.
var internalPackages = []string{"membership", "manifest", "discovery", "swarm", "storage", "host"}

// internalText is err's text without the names of the internal packages
// it went through ("membership: " at its start or after a ": ") and
// without a sentinel's text repeated at its end (": bad invite").
func internalText(err error) string {
	s := err.Error()
	for _, p := range internalPackages {
		s = strings.ReplaceAll(strings.TrimPrefix(s, p+": "), ": "+p+": ", ": ")
	}
	for _, k := range publicKinds {
		s = strings.TrimSuffix(s, ": "+strings.TrimPrefix(k.internal.Error(), "manifest: "))
		s = strings.TrimSuffix(s, " ("+k.internal.Error()+")")
	}
	return s
}
