package coord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// What the group's log holds: registry changes, and the appointment or
// dismissal of a coordinator. Every entry is JSON.

// op names a kind of log entry.
type op string

const (
	opChange  op = "change"  // Change: a registry change
	opAppoint op = "appoint" // Coordinator: a member becomes a coordinator
	opDismiss op = "dismiss" // Coordinator (its Peer): a coordinator is one no more

	// The name policy (policy.go), decided by the registry's own rules.
	opAllowNames op = "allow_names"     // Names: the allow-list from now on; Lift: none
	opAllowName  op = "allow_name"      // Names (one): a name added to the list in force
	opMaxPerAddr op = "max_per_address" // Max: the cap per source address (0: none)
	// opImport: Registry, a lone bootstrap's registry, which becomes the
	// group's; only as the log's first registry entry (policy.go).
	opImport op = "import"

	// The teacher's approval (approval.go): not registry state.
	opApproval op = "approval" // Approval: whether joins need it
	opAsk      op = "ask"      // Ask: a join held for approval
	opAnswer   op = "answer"   // Answer: an approver's decision on an ask
)

// maxCommand bounds an encoded command; a registry change is far smaller.
// An import, which holds a whole class's registry, is bounded by
// maxImport instead.
const (
	maxCommand = 32 << 10
	maxImport  = 16 << 20
)

// maxAllowNames bounds an allow-list in one command (a class's roll).
const maxAllowNames = 4096

// Coordinator is a member the group has appointed.
type Coordinator struct {
	Peer  peer.ID   `json:"peer"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
	// Serial (hex) and NotAfter are those of the coordinator certificate
	// the root signs with the appointment, or with its renewal, which is
	// an appointment again (appoint_cert.go); absent in older entries.
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
}

// command is one entry of the group's log.
type command struct {
	Op          op                 `json:"op"`
	Change      *membership.Change `json:"change,omitempty"`
	Coordinator *Coordinator       `json:"coordinator,omitempty"`
	Names       []string           `json:"names,omitempty"`
	Lift        bool               `json:"lift,omitempty"`
	Max         int                `json:"max,omitempty"`
	Registry    json.RawMessage    `json:"registry,omitempty"`
	Approval    *bool              `json:"approval,omitempty"`
	Ask         *Ask               `json:"ask,omitempty"`
	Answer      *Answer            `json:"answer,omitempty"`
}

// limit is the most bytes an encoded command of op may take.
func (o op) limit() int {
	if o == opImport {
		return maxImport
	}
	return maxCommand
}

func (c command) encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("coord: encoding a %s command: %w", c.Op, err)
	}
	if len(b) > c.Op.limit() {
		return nil, fmt.Errorf("coord: %s command of %d bytes (limit %d): %w", c.Op, len(b), c.Op.limit(), ErrMalformed)
	}
	return b, nil
}

// decodeCommand parses a log entry or a forwarded proposal and checks its
// shape. It decodes bytes from the network and from disk and is fuzzed.
func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) > maxImport {
		return c, fmt.Errorf("coord: command of %d bytes (limit %d): %w", len(b), maxImport, ErrMalformed)
	}
	var raw struct {
		Op          op              `json:"op"`
		Change      json.RawMessage `json:"change"`
		Coordinator *Coordinator    `json:"coordinator"`
		Names       []string        `json:"names"`
		Lift        bool            `json:"lift"`
		Max         int             `json:"max"`
		Registry    json.RawMessage `json:"registry"`
		Approval    *bool           `json:"approval"`
		Ask         *Ask            `json:"ask"`
		Answer      *Answer         `json:"answer"`
	}
	dj := json.NewDecoder(bytes.NewReader(b))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&raw); err != nil {
		return c, fmt.Errorf("coord: command: %v: %w", err, ErrMalformed)
	}
	if dj.More() {
		return c, fmt.Errorf("coord: command: more than one value: %w", ErrMalformed)
	}
	if len(b) > raw.Op.limit() {
		return command{}, fmt.Errorf("coord: %.40s command of %d bytes (limit %d): %w", raw.Op, len(b), raw.Op.limit(), ErrMalformed)
	}
	c.Op, c.Coordinator = raw.Op, raw.Coordinator
	approval := raw.Approval != nil || raw.Ask != nil || raw.Answer != nil
	policy := raw.Names != nil || raw.Lift || raw.Max != 0 || len(raw.Registry) != 0
	switch c.Op {
	case opAllowNames, opAllowName, opMaxPerAddr, opImport:
		if approval {
			return command{}, fmt.Errorf("coord: %s command with an approval, ask or answer: %w", c.Op, ErrMalformed)
		}
		return decodePolicy(c.Op, raw.Change, raw.Coordinator, raw.Names, raw.Lift, raw.Max, raw.Registry)
	case opApproval, opAsk, opAnswer:
		if policy || len(raw.Change) != 0 || c.Coordinator != nil {
			return command{}, fmt.Errorf("coord: %s command with names, a cap, a registry, a change or a coordinator: %w", c.Op, ErrMalformed)
		}
		return decodeApproval(c.Op, raw.Approval, raw.Ask, raw.Answer)
	}
	if policy || approval {
		return command{}, fmt.Errorf("coord: %.40s command with names, a cap, a registry, an approval, an ask or an answer: %w", c.Op, ErrMalformed)
	}
	switch c.Op {
	case opChange:
		if len(raw.Change) == 0 || c.Coordinator != nil {
			return command{}, fmt.Errorf("coord: change command without a change, or with a coordinator: %w", ErrMalformed)
		}
		ch, err := membership.DecodeChange(raw.Change)
		if err != nil {
			return command{}, fmt.Errorf("coord: %w", err)
		}
		c.Change = &ch
	case opAppoint, opDismiss:
		if len(raw.Change) != 0 || c.Coordinator == nil || c.Coordinator.Peer.Validate() != nil {
			return command{}, fmt.Errorf("coord: %s command needs one valid coordinator and no change: %w", c.Op, ErrMalformed)
		}
		if len(c.Coordinator.Name) > 64 {
			return command{}, fmt.Errorf("coord: coordinator name of %d bytes (limit 64): %w", len(c.Coordinator.Name), ErrMalformed)
		}
		if err := c.Coordinator.checkSerial(); err != nil {
			return command{}, err
		}
	default:
		return command{}, fmt.Errorf("coord: command %.40q is not change, appoint, dismiss, allow_names, allow_name, max_per_address, import, approval, ask or answer: %w", c.Op, ErrMalformed)
	}
	return c, nil
}

// Named errors.
var (
	// ErrMalformed: bytes from the network or disk do not decode.
	ErrMalformed = errors.New("malformed")
	// ErrNoQuorum: no majority of the coordinators can be reached, so
	// nothing can be committed (no join, revocation or appointment) until
	// enough of them are back; everything else keeps working.
	ErrNoQuorum = errors.New("no majority of the coordinators is reachable")
	// ErrUncertain: the leader lost its majority after it had logged the
	// change and before it was committed: it may still be committed by the
	// next leader. A join asked again is safe (the registry takes the
	// repeat of a join as one).
	ErrUncertain = errors.New("the change may or may not have been committed")
	// ErrClosed: the group was closed.
	ErrClosed = errors.New("coordinator group closed")
)
