package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The teacher's approval in a group. A newcomer reaches one coordinator;
// the teacher sits at another (the bootstrap, most often), or the
// bootstrap is down and a TA at a coordinator decides. So the question
// and its answer are entries of the log, not a conversation between two
// machines: the coordinator the newcomer reached commits an ask; every
// coordinator whose operator approves joins (Config.Approve) asks that
// operator, as soon as it applies the ask; the first answer committed
// decides, whoever gave it, and the others' questions are withdrawn. A
// teacher thus approves at their own console every join of the class,
// whichever coordinator the newcomer reached, and while the teacher's
// machine is down a TA's answer counts the same; with no one to ask,
// the newcomer waits until its time runs out, and is refused, as at a
// lone bootstrap whose teacher does not answer. Whether joins need
// approval at all is group state too (the bootstrap commits it at each
// start, from its Config.Approve), so that no coordinator admits without
// it while the teacher asks for it.
//
// A coordinator that restarts applies its log again: an ask still open
// (its Until not passed) is put to its operator again, and withdrawn as
// soon as its answer, later in the log, is applied.

// Ask is a join held for approval, as the log has it.
type Ask struct {
	ID    string    `json:"id"` // 32 hex digits, made by the asking coordinator
	Peer  peer.ID   `json:"peer"`
	Name  string    `json:"name"`
	Role  string    `json:"role"`
	Addr  string    `json:"addr,omitempty"`
	Via   string    `json:"via,omitempty"` // the name of the coordinator the newcomer reached
	Until time.Time `json:"until"`         // when the asking coordinator stops waiting
}

// Answer is an approver's decision on an Ask.
type Answer struct {
	ID     string `json:"id"`
	OK     bool   `json:"ok,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"` // the name of the coordinator whose operator answered
}

// Approver is asked about a join held for approval: its operator says yes
// or no, with a reason for a refusal. ctx ends when another coordinator's
// answer is committed, the ask's time runs out, or the group closes.
type Approver func(ctx context.Context, a Ask) (bool, string)

func checkAsk(a *Ask) error {
	switch {
	case a == nil:
		return fmt.Errorf("coord: ask command without an ask: %w", ErrMalformed)
	case len(a.ID) != 32 || !isHex(a.ID):
		return fmt.Errorf("coord: ask %.40q is not 32 hex digits: %w", a.ID, ErrMalformed)
	case a.Peer.Validate() != nil:
		return fmt.Errorf("coord: ask %s names peer %.60q: %w", a.ID, a.Peer, ErrMalformed)
	case len(a.Name) > 256 || len(a.Role) > 16 || len(a.Addr) > 64 || len(a.Via) > 256:
		return fmt.Errorf("coord: ask %s has a name, role, address or coordinator too long: %w", a.ID, ErrMalformed)
	}
	return nil
}

func checkAnswer(a *Answer) error {
	switch {
	case a == nil:
		return fmt.Errorf("coord: answer command without an answer: %w", ErrMalformed)
	case len(a.ID) != 32 || !isHex(a.ID):
		return fmt.Errorf("coord: answer %.40q is not 32 hex digits: %w", a.ID, ErrMalformed)
	case len(a.Reason) > 1024 || len(a.By) > 256:
		return fmt.Errorf("coord: answer %s has a reason or approver too long: %w", a.ID, ErrMalformed)
	}
	return nil
}

// decodeApproval checks the shape of an approval, ask or answer command.
func decodeApproval(o op, on *bool, ask *Ask, ans *Answer) (command, error) {
	c := command{Op: o}
	switch o {
	case opApproval:
		if on == nil || ask != nil || ans != nil {
			return command{}, fmt.Errorf("coord: approval command needs whether, and nothing else: %w", ErrMalformed)
		}
		c.Approval = on
	case opAsk:
		if on != nil || ans != nil {
			return command{}, fmt.Errorf("coord: ask command with more than an ask: %w", ErrMalformed)
		}
		if err := checkAsk(ask); err != nil {
			return command{}, err
		}
		c.Ask = ask
	case opAnswer:
		if on != nil || ask != nil {
			return command{}, fmt.Errorf("coord: answer command with more than an answer: %w", ErrMalformed)
		}
		if err := checkAnswer(ans); err != nil {
			return command{}, err
		}
		c.Answer = ans
	}
	return c, nil
}

func isHex(s string) bool { _, err := hex.DecodeString(s); return err == nil }

// RequireApproval commits whether joins need the teacher's approval,
// across the group.
func (g *Group) RequireApproval(ctx context.Context, on bool) error {
	return g.proposeInto(ctx, command{Op: opApproval, Approval: &on}, nil)
}

// ApprovalRequired reports whether joins need approval, as this
// coordinator has applied the log.
func (g *Group) ApprovalRequired() bool {
	g.fsm.mu.Lock()
	defer g.fsm.mu.Unlock()
	return g.fsm.approval
}

// Ask holds a join for approval: it commits a, and waits for the first
// answer committed, or until ctx ends (then the ask is withdrawn, so that
// no operator is asked about it any longer, and Ask returns ctx's error).
// a.ID and a.Until are filled in if empty.
func (g *Group) Ask(ctx context.Context, a Ask) (Answer, error) {
	if a.ID == "" {
		var id [16]byte
		_, _ = rand.Read(id[:])
		a.ID = hex.EncodeToString(id[:])
	}
	if a.Until.IsZero() {
		d, ok := ctx.Deadline()
		if !ok {
			d = time.Now().Add(2 * time.Minute)
		}
		a.Until = d
	}
	ch := make(chan Answer, 1)
	g.amu.Lock()
	g.waiting[a.ID] = ch
	g.amu.Unlock()
	defer func() {
		g.amu.Lock()
		delete(g.waiting, a.ID)
		g.amu.Unlock()
	}()
	pctx, cancel := context.WithTimeout(ctx, g.cfg.Timing.Apply)
	err := g.proposeInto(pctx, command{Op: opAsk, Ask: &a}, nil)
	cancel()
	if err != nil {
		return Answer{}, err
	}
	select {
	case ans := <-ch:
		return ans, nil
	case <-ctx.Done():
	case <-g.done:
		return Answer{}, ErrClosed
	}
	// Withdrawn: the first answer in the log decides, so this one, if
	// first, ends the others' questions.
	go func() {
		wctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timing.Apply)
		defer cancel()
		_ = g.proposeInto(wctx, command{Op: opAnswer, Answer: &Answer{ID: a.ID, Reason: "withdrawn: the newcomer stopped waiting", By: g.cfg.Name}}, nil)
	}()
	return Answer{}, ctx.Err()
}

// asked follows the log's asks and answers on this coordinator: an
// answer goes to the Ask waiting for it and ends this operator's
// question; an ask still open is put to this operator, if it has one. It
// runs inside the state machine, so the operator is asked apart.
func (g *Group) asked(a Applied) {
	switch {
	case a.Answer != nil:
		g.amu.Lock()
		ch := g.waiting[a.Answer.ID]
		delete(g.waiting, a.Answer.ID)
		stop := g.asking[a.Answer.ID]
		delete(g.asking, a.Answer.ID)
		g.amu.Unlock()
		if ch != nil {
			ch <- *a.Answer
		}
		if stop != nil {
			stop()
		}
	case a.Ask != nil && g.cfg.Approve != nil && time.Now().Before(a.Ask.Until):
		ask := *a.Ask
		ctx, cancel := context.WithDeadline(context.Background(), ask.Until)
		g.amu.Lock()
		if g.asking[ask.ID] != nil {
			g.amu.Unlock()
			cancel()
			return
		}
		g.asking[ask.ID] = cancel
		g.amu.Unlock()
		go g.putToOperator(ctx, cancel, ask)
	}
}

// putToOperator asks this coordinator's operator about ask and commits
// the answer, unless another was committed first.
func (g *Group) putToOperator(ctx context.Context, cancel context.CancelFunc, ask Ask) {
	defer cancel()
	go func() {
		select {
		case <-g.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	ok, why := g.cfg.Approve(ctx, ask)
	if ctx.Err() != nil {
		return // answered elsewhere, timed out, or closed
	}
	g.amu.Lock()
	_, open := g.asking[ask.ID]
	g.amu.Unlock()
	if !open {
		return
	}
	actx, acancel := context.WithTimeout(context.Background(), g.cfg.Timing.Apply)
	defer acancel()
	ans := Answer{ID: ask.ID, OK: ok, Reason: strings.TrimSpace(why), By: g.cfg.Name}
	if err := g.proposeInto(actx, command{Op: opAnswer, Answer: &ans}, nil); err != nil {
		g.log.Warn("the answer to a join held for approval could not be committed", "name", ask.Name, "err", err)
	}
}
