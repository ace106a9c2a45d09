package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// ProtocolPropose carries a proposal from a coordinator to the leader,
// which commits it and answers with the outcome. Only coordinators may
// open it.
const ProtocolPropose protocol.ID = "/p2pshare/coord/propose/1.0.0"

// retryEvery is how often a proposal looks for a leader again while none
// is known (an election under way, or no majority).
const retryEvery = 50 * time.Millisecond

// Change commits the registry change c through the leader and returns its
// outcome once a majority of the coordinators has it: the registry's
// refusal (membership.IsRefusal), ErrNoQuorum if no leader is found before
// ctx ends (or within Timing.Apply if ctx has no deadline), ErrUncertain
// if the leader lost its majority half way, or the result.
func (g *Group) Change(ctx context.Context, c membership.Change) (membership.ChangeResult, error) {
	if _, err := c.Encode(); err != nil {
		return membership.ChangeResult{}, err
	}
	var res membership.ChangeResult
	err := g.proposeInto(ctx, command{Op: opChange, Change: &c}, &res)
	return res, err
}

// Appoint makes p, a member named name, a coordinator: the appointment is
// committed, then p joins the Raft configuration as a voter (p must be
// running Open with this group's coordinators in Known, and be reachable).
// Only the leader can change the configuration, so a follower forwards it.
func (g *Group) Appoint(ctx context.Context, p peer.ID, name string) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("coord: appointing peer %q: %w", p, err)
	}
	err := g.proposeInto(ctx, command{Op: opAppoint, Coordinator: &Coordinator{Peer: p, Name: name, Since: time.Now()}}, nil)
	if err != nil {
		return err
	}
	if n := len(g.Voters()); n%2 == 0 {
		g.log.Warn("the coordinator group has an even size: it needs a majority of them up, so one more than the last odd size gains no failure it can ride out",
			"coordinators", n)
	}
	return nil
}

// Dismiss ends p's appointment and takes it out of the vote. A leader does
// not dismiss itself: ask another coordinator.
func (g *Group) Dismiss(ctx context.Context, p peer.ID) error {
	if g.IsLeader() && p == g.self {
		return fmt.Errorf("coord: coordinator %s leads the group and cannot dismiss itself; dismiss it from another", p)
	}
	return g.proposeInto(ctx, command{Op: opDismiss, Coordinator: &Coordinator{Peer: p}}, nil)
}

// proposeInto commits cmd, here if this node leads and at the leader
// otherwise, and decodes a change's result into res.
func (g *Group) proposeInto(ctx context.Context, cmd command, res *membership.ChangeResult) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.cfg.Timing.Apply)
		defer cancel()
	}
	b, err := cmd.encode()
	if err != nil {
		return err
	}
	var last error
	for {
		select {
		case <-g.done:
			return ErrClosed
		default:
		}
		var r membership.ChangeResult
		var err error
		if g.raft.State() == raft.Leader {
			r, _, err = g.lead(ctx, cmd, b)
		} else if l := g.Leader(); l != "" && l != g.self {
			var at uint64
			if r, at, err = g.forward(ctx, l, b); err == nil || membership.IsRefusal(err) {
				// What this coordinator reads next (the token it just
				// added, say) includes the change.
				g.waitApplied(ctx, at)
			}
		} else {
			err = errNoLeader
		}
		// A change that is the same done twice is simply made again when
		// its outcome is uncertain: until a leader commits it, or none can.
		again := idempotent(cmd) && errors.Is(err, ErrUncertain)
		if !again && !errors.Is(err, errNoLeader) && !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, errUnreached) {
			if err == nil && res != nil {
				*res = r
			}
			return err
		}
		last = err
		t := time.NewTimer(retryEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return g.noQuorum(last)
		case <-g.done:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
	}
}

// waitApplied waits until this coordinator has applied the entry at index
// (or a snapshot past it), or ctx ends.
func (g *Group) waitApplied(ctx context.Context, index uint64) {
	for {
		at, next := g.fsm.appliedAt()
		if at >= index || g.raft.AppliedIndex() >= index {
			return
		}
		// A snapshot restored moves the index without an entry applied:
		// look again now and then.
		t := time.NewTimer(retryEvery)
		select {
		case <-next:
		case <-t.C:
		case <-ctx.Done():
		case <-g.done:
		}
		t.Stop()
		if ctx.Err() != nil {
			return
		}
		select {
		case <-g.done:
			return
		default:
		}
	}
}

// idempotent reports whether cmd applied twice is cmd applied once: an
// appointment, a dismissal, a list of names or a cap set, and a join,
// renewal or enrolment, which the
// registry takes as the repeat of one that succeeded (it adds the new
// certificate's serial, and uses no token again).
func idempotent(cmd command) bool {
	switch cmd.Op {
	case opAllowName, opImport:
		// Made twice, the second is refused (on the list already; the
		// registry has entries already): the outcome is reported as
		// uncertain instead.
		return false
	case opChange:
	default:
		return true
	}
	switch cmd.Change.Op {
	case membership.OpAdmit, membership.OpRenew, membership.OpEnroll, membership.OpAddToken:
		return true
	}
	return false
}

var (
	errNoLeader  = errors.New("no leader known")
	errUnreached = errors.New("the leader could not be reached")
)

// noQuorum is the error of a proposal that found no leader in time.
func (g *Group) noQuorum(last error) error {
	n := len(g.Voters())
	return fmt.Errorf("coord: no leader could commit the change: %w (the group has %d coordinators and needs %d of them up and in touch; last: %v)",
		ErrNoQuorum, n, n/2+1, last)
}

// lead commits cmd on this node, the leader, and for a change and an
// appointment does what follows the commit here.
func (g *Group) lead(ctx context.Context, cmd command, b []byte) (membership.ChangeResult, uint64, error) {
	timeout := g.cfg.Timing.Apply
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := g.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return membership.ChangeResult{}, 0, err
		case errors.Is(err, raft.ErrLeadershipLost):
			return membership.ChangeResult{}, 0, fmt.Errorf("coord: the leader lost its majority while committing: %w", ErrUncertain)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return membership.ChangeResult{}, 0, g.noQuorum(err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return membership.ChangeResult{}, 0, ErrClosed
		}
		return membership.ChangeResult{}, 0, fmt.Errorf("coord: committing: %w", err)
	}
	out, _ := f.Response().(result)
	if out.err != nil {
		return membership.ChangeResult{}, f.Index(), out.err
	}
	if c := cmd.Coordinator; c != nil && c.Peer != g.self {
		id := raft.ServerID(c.Peer.String())
		if cmd.Op == opAppoint {
			if err := g.raft.AddVoter(id, raft.ServerAddress(id), 0, timeout).Error(); err != nil {
				return membership.ChangeResult{}, 0, fmt.Errorf("coord: coordinator %q (%s) is appointed but did not join the vote: %w", c.Name, c.Peer, err)
			}
		} else if err := g.raft.RemoveServer(id, 0, timeout).Error(); err != nil {
			return membership.ChangeResult{}, 0, fmt.Errorf("coord: coordinator %s is dismissed but still votes: %w", c.Peer, err)
		}
	}
	return out.res, f.Index(), nil
}

// reply is the leader's answer on ProtocolPropose.
type reply struct {
	Result    *membership.ChangeResult `json:"result,omitempty"`
	Refusal   string                   `json:"refusal,omitempty"`    // the registry's refusal
	Error     string                   `json:"error,omitempty"`      // another failure
	NotLeader bool                     `json:"not_leader,omitempty"` // nothing was done: ask the leader
	NoQuorum  bool                     `json:"no_quorum,omitempty"`
	Uncertain bool                     `json:"uncertain,omitempty"`
	// Index is the log index of the committed entry (0 if none), which
	// the proposer waits to apply too.
	Index uint64 `json:"index,omitempty"`
}

// decodeReply parses the leader's answer. It decodes bytes from the
// network and is fuzzed.
func decodeReply(b []byte) (reply, error) {
	var r reply
	if err := json.Unmarshal(b, &r); err != nil {
		return reply{}, fmt.Errorf("coord: leader's reply: %v: %w", err, ErrMalformed)
	}
	n := 0
	for _, set := range []bool{r.Result != nil, r.Refusal != "", r.Error != "", r.NotLeader, r.NoQuorum, r.Uncertain} {
		if set {
			n++
		}
	}
	if n != 1 && !(n == 2 && r.Error != "" && (r.NoQuorum || r.Uncertain)) {
		return reply{}, fmt.Errorf("coord: leader's reply holds %d outcomes: %w", n, ErrMalformed)
	}
	if res := r.Result; res != nil {
		// Records decode with an empty peer ID that they cannot be
		// encoded with again: only a member record wholly absent may lack
		// one.
		if res.Member.Peer == "" && !reflect.ValueOf(res.Member).IsZero() {
			return reply{}, fmt.Errorf("coord: leader's reply holds a member %q without a peer ID: %w", res.Member.Name, ErrMalformed)
		}
		for _, rv := range res.Revoked {
			if rv.Peer.Validate() != nil {
				return reply{}, fmt.Errorf("coord: leader's reply holds a revocation of %q without a peer ID: %w", rv.Name, ErrMalformed)
			}
		}
	}
	return r, nil
}

// forward sends a proposal to the leader l and waits for its outcome,
// and the index of its entry.
func (g *Group) forward(ctx context.Context, l peer.ID, b []byte) (membership.ChangeResult, uint64, error) {
	var none membership.ChangeResult
	s, err := g.cfg.Host.NewStream(ctx, l, ProtocolPropose)
	if err != nil {
		return none, 0, fmt.Errorf("%w: %s: %v", errUnreached, l, err)
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	if err := writeFrame(s, b); err != nil {
		_ = s.Reset()
		return none, 0, fmt.Errorf("%w: %s: %v", errUnreached, l, err)
	}
	_ = s.CloseWrite()
	rb, err := readFrame(s, "leader's reply")
	if err != nil {
		// Sent, and perhaps committed: the outcome is not known here.
		return none, 0, fmt.Errorf("coord: leader %s: %v: %w", l, err, ErrUncertain)
	}
	r, err := decodeReply(rb)
	if err != nil {
		return none, 0, err
	}
	switch {
	case r.NotLeader:
		return none, 0, raft.ErrNotLeader
	case r.Refusal != "":
		return none, r.Index, membership.Refusal(r.Refusal)
	case r.NoQuorum:
		return none, 0, fmt.Errorf("coord: leader %s: %s: %w", l, r.Error, ErrNoQuorum)
	case r.Uncertain:
		return none, 0, fmt.Errorf("coord: leader %s: %s: %w", l, r.Error, ErrUncertain)
	case r.Error != "":
		return none, 0, fmt.Errorf("coord: leader %s: %s", l, r.Error)
	}
	return *r.Result, r.Index, nil
}

// serveProposal is the leader's side of ProtocolPropose.
func (g *Group) serveProposal(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(g.cfg.Timing.Apply + 5*time.Second))
	b, err := readFrame(s, "proposal")
	var rep reply
	if err == nil {
		var cmd command
		if cmd, err = decodeCommand(b); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timing.Apply)
			var res membership.ChangeResult
			if g.raft.State() != raft.Leader {
				err = raft.ErrNotLeader
			} else {
				res, rep.Index, err = g.lead(ctx, cmd, b)
			}
			cancel()
			if err == nil {
				rep.Result = &res
			}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader):
		rep.NotLeader = true
	case membership.IsRefusal(err):
		rep.Refusal = err.Error()
	default:
		rep.Error = err.Error()
		// A leader closing under a proposal may have logged it already.
		rep.NoQuorum, rep.Uncertain = errors.Is(err, ErrNoQuorum), errors.Is(err, ErrUncertain) || errors.Is(err, ErrClosed)
	}
	out, merr := json.Marshal(rep)
	if merr != nil {
		_ = s.Reset()
		return
	}
	if err := writeFrame(s, out); err != nil {
		_ = s.Reset()
	}
}

// screenedHost serves the group's protocols to the peers allow lets in
// only: any other stream is reset before a byte is read.
type screenedHost struct {
	host.Host
	allow func(peer.ID) bool
}

func (h screenedHost) SetStreamHandler(pid protocol.ID, hd network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) {
		if !h.allow(s.Conn().RemotePeer()) {
			_ = s.Reset()
			return
		}
		hd(s)
	})
}
