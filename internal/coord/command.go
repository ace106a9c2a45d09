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
)

// maxCommand bounds an encoded command; a registry change is far smaller.
const maxCommand = 32 << 10

// Coordinator is a member the group has appointed.
type Coordinator struct {
	Peer  peer.ID   `json:"peer"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// command is one entry of the group's log.
type command struct {
	Op          op                 `json:"op"`
	Change      *membership.Change `json:"change,omitempty"`
	Coordinator *Coordinator       `json:"coordinator,omitempty"`
}

func (c command) encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("coord: encoding a %s command: %w", c.Op, err)
	}
	if len(b) > maxCommand {
		return nil, fmt.Errorf("coord: %s command of %d bytes (limit %d): %w", c.Op, len(b), maxCommand, ErrMalformed)
	}
	return b, nil
}

// decodeCommand parses a log entry or a forwarded proposal and checks its
// shape. It decodes bytes from the network and from disk and is fuzzed.
func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) > maxCommand {
		return c, fmt.Errorf("coord: command of %d bytes (limit %d): %w", len(b), maxCommand, ErrMalformed)
	}
	var raw struct {
		Op          op              `json:"op"`
		Change      json.RawMessage `json:"change"`
		Coordinator *Coordinator    `json:"coordinator"`
	}
	dj := json.NewDecoder(bytes.NewReader(b))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&raw); err != nil {
		return c, fmt.Errorf("coord: command: %v: %w", err, ErrMalformed)
	}
	if dj.More() {
		return c, fmt.Errorf("coord: command: more than one value: %w", ErrMalformed)
	}
	c.Op, c.Coordinator = raw.Op, raw.Coordinator
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
	default:
		return command{}, fmt.Errorf("coord: command %.40q is not change, appoint or dismiss: %w", c.Op, ErrMalformed)
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
