package membership

import (
	"errors"
	"regexp"
)

// Kinds of refusal a newcomer can act on, beside ErrRefused, which every
// refusal wraps. A RefusalError wraps the one its reason shows, if any.
var (
	// ErrUsedUp: the invite's token has no use left, was cancelled, or is
	// not known to the bootstrap; a new invite is needed.
	ErrUsedUp = errors.New("invite used up")
	// ErrNameTaken: the name asked for is held by another peer, or
	// reserved by a revocation or by a per-student invite.
	ErrNameTaken = errors.New("name taken")
)

// RefusalError is a bootstrap's refusal of an admission, as the newcomer
// receives it: the bootstrap's reason, and the kind of refusal the reason
// shows. It wraps ErrRefused, and also ErrExpired (the token expired),
// ErrUsedUp, ErrNameTaken or ErrBadName when the reason is one of those.
type RefusalError struct {
	Reason string
}

func (e *RefusalError) Error() string { return "the bootstrap refused: " + e.Reason }

func (e *RefusalError) Unwrap() []error {
	if k := refusalKind(e.Reason); k != nil {
		return []error{ErrRefused, k}
	}
	return []error{ErrRefused}
}

// refusalKinds read a refusal's kind from its reason. The reason is all the
// admission protocol carries, so its wording, set by checkJoin, is what
// these match; TestRefusalKinds holds the two together.
var refusalKinds = []struct {
	re   *regexp.Regexp
	kind error
}{
	{regexp.MustCompile(`^token \S+ expired at `), ErrExpired},
	{regexp.MustCompile(`^token \S+ has no uses left`), ErrUsedUp},
	{regexp.MustCompile(`^token \S+ is not known to this bootstrap`), ErrUsedUp},
	{regexp.MustCompile(`^the invite with token \S+ was cancelled`), ErrUsedUp},
	{regexp.MustCompile(`^name ".*" is already held by peer `), ErrNameTaken},
	{regexp.MustCompile(`^name ".*" was revoked `), ErrNameTaken},
	{regexp.MustCompile(`^name ".*" is reserved for the student's own invite`), ErrNameTaken},
	{regexp.MustCompile(`^name ".*": character \d+, `), ErrBadName},
}

func refusalKind(reason string) error {
	for _, k := range refusalKinds {
		if k.re.MatchString(reason) {
			return k.kind
		}
	}
	return nil
}
