package coord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// fsm is the group's state machine: the registry and the coordinators.
// Raft applies committed entries to it one at a time, in log order, on
// every coordinator; what it decides depends only on the entries, so every
// coordinator decides the same.
type fsm struct {
	reg *membership.Registry

	mu     sync.Mutex
	coords map[peer.ID]Coordinator
	// maxPerAddr is the cap per source address the log set (policy.go).
	maxPerAddr int
	// sealed: a registry entry was applied, so no import may follow.
	sealed bool
	// approval: joins need the teacher's approval (approval.go).
	approval bool
	// index is the last entry applied; next is closed, and replaced, when
	// another is (waitApplied).
	index uint64
	next  chan struct{}
	// applied is called after each entry is applied (nil: nothing), with
	// what it was and its outcome: the node's own reaction (a new CRL
	// after a revocation) hangs off it.
	applied func(Applied)
}

// Applied is one committed entry as a coordinator applied it.
type Applied struct {
	Index       uint64
	Change      *membership.Change // a registry change, or nil
	Coordinator *Coordinator       // an appointment or dismissal, or nil
	Dismissed   bool
	Imported    bool    // a lone bootstrap's registry became the group's
	Ask         *Ask    // a join held for approval, or nil
	Answer      *Answer // an approver's decision, or nil
	Result      membership.ChangeResult
	Err         error // the registry's refusal, or a malformed entry
}

// result is what Apply returns to raft, and the proposer gets back.
type result struct {
	res membership.ChangeResult
	err error
}

func newFSM(reg *membership.Registry) *fsm {
	return &fsm{reg: reg, coords: map[peer.ID]Coordinator{}, next: make(chan struct{})}
}

// Apply applies one committed entry.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return result{}
	}
	a := Applied{Index: l.Index}
	c, err := decodeCommand(l.Data)
	switch {
	case err != nil:
		// Written by a newer or broken coordinator: every replica skips it
		// alike.
		a.Err = err
	case c.Op == opChange:
		a.Change = c.Change
		a.Result, a.Err = f.reg.Apply(*c.Change)
		f.seal()
	case c.Op == opAllowNames || c.Op == opAllowName || c.Op == opMaxPerAddr || c.Op == opImport:
		a.Err = f.applyPolicy(c)
		a.Imported = c.Op == opImport && a.Err == nil
		f.seal()
	case c.Op == opApproval:
		f.mu.Lock()
		f.approval = *c.Approval
		f.mu.Unlock()
	case c.Op == opAsk:
		a.Ask = c.Ask
	case c.Op == opAnswer:
		a.Answer = c.Answer
	case c.Op == opAppoint:
		a.Coordinator = c.Coordinator
		f.mu.Lock()
		f.coords[c.Coordinator.Peer] = *c.Coordinator
		f.mu.Unlock()
	case c.Op == opDismiss:
		a.Coordinator, a.Dismissed = c.Coordinator, true
		f.mu.Lock()
		delete(f.coords, c.Coordinator.Peer)
		f.mu.Unlock()
	}
	f.mu.Lock()
	hook := f.applied
	f.index = l.Index
	close(f.next)
	f.next = make(chan struct{})
	f.mu.Unlock()
	if hook != nil {
		hook(a)
	}
	return result{res: a.Result, err: a.Err}
}

// appliedAt returns the index of the last entry applied, and a channel
// closed once another is.
func (f *fsm) appliedAt() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.index, f.next
}

// seal records that a registry entry was applied: no import may follow.
func (f *fsm) seal() {
	f.mu.Lock()
	f.sealed = true
	f.mu.Unlock()
}

// coordinators lists the appointed coordinators, by name.
func (f *fsm) coordinators() []Coordinator {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Coordinator, 0, len(f.coords))
	for _, c := range f.coords {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Peer < out[j].Peer
	})
	return out
}

func (f *fsm) isCoordinator(p peer.ID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.coords[p]
	return ok
}

// snapshotFormat is the version of a snapshot's encoding.
const snapshotFormat = 1

// maxSnapshot bounds a snapshot: the registry's own limit and room for the
// coordinators.
const maxSnapshot = 65 << 20

// snapshotState is a snapshot's encoding.
type snapshotState struct {
	Format       int             `json:"format"`
	Registry     json.RawMessage `json:"registry"`
	Coordinators []Coordinator   `json:"coordinators"`
	// MaxPerAddress and Sealed are the state machine's part of the name
	// policy (policy.go); snapshots of earlier versions hold neither.
	MaxPerAddress int  `json:"max_per_address,omitempty"`
	Sealed        bool `json:"sealed,omitempty"`
	Approval      bool `json:"approval,omitempty"` // joins need approval (approval.go)
}

// Snapshot captures the state now; raft writes it out later, while
// entries go on being applied.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	reg, err := f.reg.MarshalState()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	maxPerAddr, sealed, approval := f.maxPerAddr, f.sealed, f.approval
	f.mu.Unlock()
	b, err := json.Marshal(snapshotState{Format: snapshotFormat, Registry: reg, Coordinators: f.coordinators(),
		MaxPerAddress: maxPerAddr, Sealed: sealed, Approval: approval})
	if err != nil {
		return nil, fmt.Errorf("coord: encoding a snapshot: %w", err)
	}
	return snapshot(b), nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSnapshot+1))
	if err != nil {
		return fmt.Errorf("coord: reading a snapshot: %w", err)
	}
	st, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	if err := f.reg.RestoreState(st.Registry); err != nil {
		return fmt.Errorf("coord: snapshot: %w", err)
	}
	if err := f.reg.SetMaxPerAddress(st.MaxPerAddress); err != nil {
		return fmt.Errorf("coord: snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maxPerAddr, f.approval = st.MaxPerAddress, st.Approval
	// A snapshot of an earlier version, without Sealed, of a group that
	// has members has had registry entries.
	f.sealed = st.Sealed || len(f.reg.Members()) > 0
	f.coords = map[peer.ID]Coordinator{}
	for _, c := range st.Coordinators {
		f.coords[c.Peer] = c
	}
	return nil
}

// decodeSnapshot parses a snapshot and checks its shape (the registry's is
// checked by RestoreState). It decodes bytes from disk and the network
// (a leader sends a lagging coordinator its snapshot) and is fuzzed.
func decodeSnapshot(b []byte) (snapshotState, error) {
	var st snapshotState
	if len(b) > maxSnapshot {
		return st, fmt.Errorf("coord: snapshot of %d bytes (limit %d): %w", len(b), maxSnapshot, ErrMalformed)
	}
	dj := json.NewDecoder(bytes.NewReader(b))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&st); err != nil {
		return snapshotState{}, fmt.Errorf("coord: snapshot: %v: %w", err, ErrMalformed)
	}
	if st.Format != snapshotFormat {
		return snapshotState{}, fmt.Errorf("coord: snapshot format %d, this program reads %d: %w", st.Format, snapshotFormat, ErrMalformed)
	}
	if len(st.Registry) == 0 {
		return snapshotState{}, fmt.Errorf("coord: snapshot without a registry: %w", ErrMalformed)
	}
	if st.MaxPerAddress < 0 {
		return snapshotState{}, fmt.Errorf("coord: snapshot caps members per address at %d: %w", st.MaxPerAddress, ErrMalformed)
	}
	for _, c := range st.Coordinators {
		if c.Peer.Validate() != nil || len(c.Name) > 64 {
			return snapshotState{}, fmt.Errorf("coord: snapshot names coordinator %.60q (%.70q): %w", c.Name, c.Peer, ErrMalformed)
		}
	}
	return st, nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("coord: writing a snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
