package membership

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Registry changes as values. A coordinator group (internal/coord)
// replicates the registry as a log of Changes: each carries everything its
// decision needs, the time included, so that every coordinator that
// applies it to the same state decides the same, and the decision itself
// is the one a lone bootstrap makes (checkJoin and the others).

// ChangeOp names a kind of registry change.
type ChangeOp string

// The registry changes a Change can carry.
const (
	OpAddToken    ChangeOp = "token"  // Token: a new join token
	OpAdmit       ChangeOp = "admit"  // Peer, Name, Role, TokenID, Serial, NotAfter, Addr: a join
	OpEnroll      ChangeOp = "enroll" // Peer, Name, Role, Serial, NotAfter: a member without a token (a coordinator itself)
	OpRenew       ChangeOp = "renew"  // Peer, Serial, NotAfter: a renewed certificate
	OpRevoke      ChangeOp = "revoke" // Who, CancelToken
	OpLift        ChangeOp = "lift"   // Who
	OpCancelToken ChangeOp = "cancel" // TokenID
)

// maxChange bounds an encoded Change: a token record or a member's is a
// few hundred bytes.
const maxChange = 16 << 10

// Change is one change of the registry's state.
type Change struct {
	Op          ChangeOp     `json:"op"`
	At          time.Time    `json:"at"` // the proposer's clock: token expiry and record times are judged by it
	Token       *TokenRecord `json:"token,omitempty"`
	Peer        peer.ID      `json:"peer,omitempty"`
	Name        string       `json:"name,omitempty"`
	Role        Role         `json:"role,omitempty"`
	TokenID     string       `json:"token_id,omitempty"`
	Serial      string       `json:"serial,omitempty"` // hex, of the certificate signed for it
	NotAfter    time.Time    `json:"not_after,omitzero"`
	Who         string       `json:"who,omitempty"` // a name or a peer ID
	CancelToken bool         `json:"cancel_token,omitempty"`
	Addr        string       `json:"addr,omitempty"` // admit: the newcomer's source address, for the cap per address
}

// ChangeResult is what applying a Change yields.
type ChangeResult struct {
	Member    MemberRecord    `json:"member,omitzero"`     // admit, enroll, renew
	Token     TokenRecord     `json:"token,omitzero"`      // token, cancel (without the secret)
	Revoked   []RevokedRecord `json:"revoked,omitempty"`   // revoke (one), lift
	CRLNumber int64           `json:"crl_number,omitzero"` // revoke, lift
}

// IsRefusal reports whether err is a registry decision against a change
// (a name taken, a token used up, a member unknown) rather than a failure:
// its text is meant for the newcomer or the teacher.
func IsRefusal(err error) bool {
	var r refusal
	return errors.As(err, &r)
}

// Refusal makes an error that IsRefusal recognises, with the given reason:
// a coordinator that receives another's refusal over the network passes it
// on as one.
func Refusal(reason string) error { return refusal{reason} }

// NewMemoryRegistry is an empty registry that writes no file: the state
// machine of a coordinator group, whose log and snapshots make it durable.
func NewMemoryRegistry() *Registry {
	r := &Registry{st: &registryState{Format: registryFormat, Members: map[string]*MemberRecord{}, Tokens: map[string]*TokenRecord{}}}
	r.reindex()
	return r
}

// MarshalState is the registry's whole state, in the form registry.json
// holds.
func (r *Registry) MarshalState() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := json.Marshal(r.st)
	if err != nil {
		return nil, fmt.Errorf("membership: encoding registry: %w", err)
	}
	return b, nil
}

// RestoreState replaces the registry's state with b, a MarshalState (or a
// registry.json); the registry is unchanged if b does not decode.
func (r *Registry) RestoreState(b []byte) error {
	st, err := decodeRegistry(b)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = st
	r.reindex()
	return nil
}

// Encode is the Change's wire and log form.
func (c Change) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("membership: encoding a registry change: %w", err)
	}
	if len(b) > maxChange {
		return nil, fmt.Errorf("membership: registry change %q of %d bytes (limit %d): %w", c.Op, len(b), maxChange, ErrMessageTooLarge)
	}
	return b, nil
}

// DecodeChange parses a Change and checks its shape (Apply decides on its
// content). It decodes bytes from the network and from disk and is fuzzed.
func DecodeChange(b []byte) (Change, error) {
	var c Change
	if len(b) > maxChange {
		return c, fmt.Errorf("membership: registry change of %d bytes (limit %d): %w", len(b), maxChange, ErrMessageTooLarge)
	}
	dj := json.NewDecoder(bytes.NewReader(b))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&c); err != nil {
		return Change{}, fmt.Errorf("membership: registry change: %v: %w", err, ErrMalformed)
	}
	if dj.More() {
		return Change{}, fmt.Errorf("membership: registry change: more than one value: %w", ErrMalformed)
	}
	if err := c.check(); err != nil {
		return Change{}, err
	}
	return c, nil
}

// check is what must hold of a Change's fields for its op.
func (c Change) check() error {
	bad := func(what string, v any) error {
		return fmt.Errorf("membership: registry change %q: %s %.80q: %w", c.Op, what, fmt.Sprint(v), ErrMalformed)
	}
	needPeer := func() error {
		if c.Peer.Validate() != nil {
			return bad("peer", c.Peer)
		}
		return nil
	}
	needSerial := func() error {
		if c.Serial == "" || validSerials([]string{c.Serial}) != nil {
			return bad("serial", c.Serial)
		}
		return nil
	}
	switch c.Op {
	case OpAddToken:
		t := c.Token
		if t == nil {
			return bad("token", "none")
		}
		st := registryState{Tokens: map[string]*TokenRecord{t.ID: t}}
		return st.check()
	case OpAdmit, OpEnroll:
		if err := errors.Join(needPeer(), needSerial(), validName(c.Name), validRole(c.Role)); err != nil {
			return err
		}
		if c.Op == OpAdmit && (len(c.TokenID) != 32 || !isHex(c.TokenID)) {
			return bad("token ID", c.TokenID)
		}
		if validFrom(c.Addr) != nil {
			return bad("source address", c.Addr)
		}
		return nil
	case OpRenew:
		return errors.Join(needPeer(), needSerial())
	case OpRevoke, OpLift:
		if c.Who == "" || len(c.Who) > 2*maxNameLen+64 {
			return bad("member", c.Who)
		}
		return nil
	case OpCancelToken:
		if len(c.TokenID) != 32 || !isHex(c.TokenID) {
			return bad("token ID", c.TokenID)
		}
		return nil
	}
	return bad("operation", c.Op)
}

// Apply makes the change c to the registry, deciding it exactly as the
// bootstrap's own calls do, at c.At. A refusal (IsRefusal) changes
// nothing. On a registry with a file, the change is durable before Apply
// returns.
func (r *Registry) Apply(c Change) (ChangeResult, error) {
	if err := c.check(); err != nil {
		return ChangeResult{}, err
	}
	var serial *big.Int
	if c.Serial != "" {
		serial, _ = new(big.Int).SetString(c.Serial, 16)
	}
	switch c.Op {
	case OpAddToken:
		t := *c.Token
		t.Secret = bytes.Clone(t.Secret)
		if old, ok := r.Token(t.ID); ok {
			// The same token proposed again, because the first proposal's
			// outcome was lost with a leader: made already, so done. IDs
			// are 16 random bytes; another token under the same ID is not
			// the same token.
			if !sameToken(old, t) {
				return ChangeResult{}, refuse("token %s already exists", t.ID)
			}
			old.Secret = nil
			return ChangeResult{Token: old}, nil
		}
		if t.Name != "" {
			// Checked again here, in the log's order: the coordinator that
			// asked checked its own registry, which right after an election
			// may not yet hold an admission the log already does.
			if err := r.nameInUse(t.Name); err != nil {
				return ChangeResult{}, refuse("%s", strings.TrimPrefix(err.Error(), "membership: "))
			}
		}
		if err := r.AddToken(t); err != nil {
			return ChangeResult{}, err
		}
		t.Secret = nil
		return ChangeResult{Token: t}, nil
	case OpAdmit:
		j := joinRecord{Peer: c.Peer, Name: c.Name, Role: c.Role, Token: c.TokenID, Addr: c.Addr}
		if err := r.admit(j, serial, c.NotAfter, c.At); err != nil {
			return ChangeResult{}, err
		}
		m, _ := r.Member(c.Peer)
		return ChangeResult{Member: m}, nil
	case OpEnroll:
		if err := r.enroll(c.Peer, c.Name, c.Role, serial, c.NotAfter, c.At); err != nil {
			return ChangeResult{}, r.decided(err)
		}
		m, _ := r.Member(c.Peer)
		return ChangeResult{Member: m}, nil
	case OpRenew:
		m, err := r.renew(c.Peer, serial, c.NotAfter)
		return ChangeResult{Member: m}, err
	case OpRevoke:
		rv, n, err := r.revoke(c.Who, c.CancelToken, c.At)
		if err != nil {
			return ChangeResult{}, r.decided(err)
		}
		return ChangeResult{Revoked: []RevokedRecord{rv}, CRLNumber: n}, nil
	case OpLift:
		rvs, n, err := r.lift(c.Who, c.At)
		if err != nil {
			return ChangeResult{}, r.decided(err)
		}
		return ChangeResult{Revoked: rvs, CRLNumber: n}, nil
	case OpCancelToken:
		t, err := r.cancelToken(c.TokenID, c.At)
		if err != nil {
			return ChangeResult{}, r.decided(err)
		}
		return ChangeResult{Token: t}, nil
	}
	return ChangeResult{}, fmt.Errorf("membership: registry change %q is not known: %w", c.Op, ErrMalformed)
}

// decided makes err, from a registry call that decides and then saves, a
// refusal when it can only be the decision: the registry writes no file.
// On a registry with a file it may be a disk failure, and stays as it is.
func (r *Registry) decided(err error) error {
	if r.path != "" {
		return err
	}
	return refusal{strings.TrimPrefix(err.Error(), "membership: ")}
}

// sameToken reports whether a and b are one token as made: the same ID,
// secret, role, uses, end, creation and name (what uses and cancellation
// did to it since does not matter).
func sameToken(a, b TokenRecord) bool {
	return a.ID == b.ID && bytes.Equal(a.Secret, b.Secret) && a.Role == b.Role && a.Uses == b.Uses &&
		a.Expires.Equal(b.Expires) && a.Created.Equal(b.Created) && a.Name == b.Name
}
