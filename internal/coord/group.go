// Package coord is the coordinator group: a few members (the bootstrap, a
// lab server, the TAs' machines; 3 or 5 in all) who hold the network's
// registry together — names ↔ peer IDs, token uses, revocations and the
// coordinators themselves — as one log replicated by Raft
// (github.com/hashicorp/raft), carried over the members' own libp2p
// streams (github.com/libp2p/go-libp2p-raft), durable in each one's data
// directory (raft-boltdb). A change is acknowledged only once a majority
// has it; while a majority is up, the group admits, and a leader's death
// costs an election, not the class.
//
// The registry's decisions are membership's own (Registry.Apply): the
// proposer puts everything a decision needs into the change, its clock
// included, and every coordinator applies the committed change to the
// same state, so all decide the same. Any coordinator may propose; one
// that is not the leader forwards the change to the leader over
// ProtocolPropose, which, like the Raft protocol, only coordinators may
// open.
package coord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	libp2praft "github.com/libp2p/go-libp2p-raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// Timing sets Raft's clocks. Zero fields take hashicorp/raft's defaults:
// a leader's loss is noticed within Heartbeat and a new one elected a
// second or two later. Shorter clocks elect faster but, on a loaded
// machine, depose leaders that are only slow.
type Timing struct {
	Heartbeat   time.Duration // 0: 1 s
	Election    time.Duration // 0: 1 s
	LeaderLease time.Duration // 0: 500 ms
	Commit      time.Duration // 0: 50 ms
	// Apply bounds a proposal when its context has no deadline; 0: 10 s.
	Apply time.Duration
}

func (t *Timing) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Heartbeat, time.Second)
	def(&t.Election, time.Second)
	def(&t.LeaderLease, 500*time.Millisecond)
	def(&t.Commit, 50*time.Millisecond)
	def(&t.Apply, 10*time.Second)
}

// Config configures one coordinator.
type Config struct {
	// Host is the coordinator's member host. The group serves the Raft
	// protocol and ProtocolPropose on it, to coordinators only: pass a
	// host whose handlers are screened for members too (Membership.Guard).
	Host host.Host
	// Dir holds the log and stable store (raft.db) and the snapshots
	// (snapshots/); created 0700.
	Dir string
	// Registry is the state machine's registry; nil: a new
	// membership.NewMemoryRegistry. Raft rebuilds it at start from the
	// newest snapshot and the log, so it should start empty.
	Registry *membership.Registry
	// Bootstrap starts a new group with this node alone, on a Dir with no
	// log yet (on a later start it does nothing): the network's first
	// node. It appoints itself under Name.
	Bootstrap bool
	Name      string
	// Import, with Bootstrap, is a registry to start a new group from
	// (Registry.MarshalState of a lone bootstrap's registry): committed as
	// the log's first entry when Open starts the group, and never on a
	// later start (policy.go).
	Import []byte
	// Known are coordinators whose Raft traffic this node takes before its
	// log names them: the group that appointed it (every coordinator, so
	// that whichever leads can reach it).
	Known []peer.ID
	// Allow, if set, also lets a peer speak the group's protocols: one
	// that holds a coordinator's certificate, say.
	Allow func(peer.ID) bool
	// Applied, if set, is called on every committed entry as this node
	// applies it, in log order (a revocation, for one, means a new CRL).
	// It runs inside the state machine: keep it short.
	Applied func(Applied)
	// Approve, if set, is this coordinator's operator, asked about every
	// join held for approval anywhere in the group (approval.go).
	Approve Approver
	Timing  Timing
	Log     *slog.Logger
	// RaftLog receives Raft's own log lines (nil: none).
	RaftLog io.Writer
}

// Group is one coordinator's part of the group. It is safe for concurrent
// use.
type Group struct {
	cfg   Config
	self  peer.ID
	fsm   *fsm
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
	log   *slog.Logger
	known map[peer.ID]bool
	// started is set once raft is, for allowed, which the transport may
	// call before.
	started atomic.Bool

	mu     sync.Mutex
	closed bool
	done   chan struct{}

	// The joins held for approval (approval.go): the Asks waiting here
	// for an answer, and the questions put to this operator.
	amu     sync.Mutex
	waiting map[string]chan Answer
	asking  map[string]context.CancelFunc
}

// Open starts this node's part of the group: it opens the log in Dir,
// serves the group's protocols on Host, and takes part in elections and
// commits from then on. With Bootstrap on a new Dir it starts the group
// alone and waits to be its leader.
func Open(cfg Config) (*Group, error) {
	if cfg.Host == nil {
		return nil, errors.New("coord: Config.Host is nil")
	}
	if cfg.Dir == "" {
		return nil, errors.New("coord: Config.Dir is empty")
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("coord: data directory: %w", err)
	}
	cfg.Timing.fill()
	if cfg.Registry == nil {
		cfg.Registry = membership.NewMemoryRegistry()
	}
	g := &Group{cfg: cfg, self: cfg.Host.ID(), fsm: newFSM(cfg.Registry), log: cfg.Log,
		known: map[peer.ID]bool{}, done: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range cfg.Known {
		g.known[p] = true
	}
	g.waiting, g.asking = map[string]chan Answer{}, map[string]context.CancelFunc{}
	g.fsm.applied = func(a Applied) {
		g.asked(a)
		if cfg.Applied != nil {
			cfg.Applied(a)
		}
	}
	out := cfg.RaftLog
	if out == nil {
		out = io.Discard
	}
	hl := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: out})

	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("coord: opening the log %s: %w", filepath.Join(cfg.Dir, "raft.db"), err)
	}
	g.store = store
	fail := func(err error) (*Group, error) {
		if g.trans != nil {
			_ = g.trans.Close()
		}
		_ = store.Close()
		return nil, err
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fail(fmt.Errorf("coord: %w", err))
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, "snapshots"), 2, hl)
	if err != nil {
		return fail(fmt.Errorf("coord: snapshot store: %w", err))
	}
	gh := screenedHost{Host: cfg.Host, allow: g.allowed}
	if g.trans, err = libp2praft.NewLibp2pTransport(gh, 5*time.Second); err != nil {
		return fail(fmt.Errorf("coord: raft transport: %w", err))
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(g.self.String())
	rc.HeartbeatTimeout, rc.ElectionTimeout = cfg.Timing.Heartbeat, cfg.Timing.Election
	rc.LeaderLeaseTimeout, rc.CommitTimeout = cfg.Timing.LeaderLease, cfg.Timing.Commit
	rc.Logger = hl
	existing, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fail(fmt.Errorf("coord: reading the log: %w", err))
	}
	r, err := raft.NewRaft(rc, g.fsm, logs, store, snaps, g.trans)
	if err != nil {
		return fail(fmt.Errorf("coord: starting raft: %w", err))
	}
	g.raft = r
	g.started.Store(true)
	gh.SetStreamHandler(ProtocolPropose, g.serveProposal)
	if cfg.Bootstrap && !existing {
		id := raft.ServerID(g.self.String())
		if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: id, Address: raft.ServerAddress(id)}}}).Error(); err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("coord: starting a new group: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timing.Apply)
		defer cancel()
		// A new group that fails to start leaves no log behind, so that the
		// next start begins it again, with its import.
		unstart := func(err error) (*Group, error) {
			_ = g.Close()
			_ = os.Remove(filepath.Join(cfg.Dir, "raft.db"))
			_ = os.RemoveAll(filepath.Join(cfg.Dir, "snapshots"))
			return nil, err
		}
		if cfg.Import != nil {
			if err := g.proposeInto(ctx, command{Op: opImport, Registry: cfg.Import}, nil); err != nil {
				return unstart(fmt.Errorf("coord: importing the registry into the new group: %w", err))
			}
		}
		if err := g.proposeInto(ctx, command{Op: opAppoint, Coordinator: &Coordinator{Peer: g.self, Name: cfg.Name, Since: time.Now()}}, nil); err != nil {
			return unstart(fmt.Errorf("coord: appointing the first coordinator: %w", err))
		}
	}
	return g, nil
}

// Close leaves the group (the others go on without this node) and closes
// the log.
func (g *Group) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.done)
	g.mu.Unlock()
	g.cfg.Host.RemoveStreamHandler(ProtocolPropose)
	err := g.raft.Shutdown().Error()
	return errors.Join(err, g.trans.Close(), g.store.Close())
}

// Registry is the registry as this coordinator has applied the log: what
// is committed, up to the last entry it has heard of.
func (g *Group) Registry() *membership.Registry { return g.cfg.Registry }

// Self is this coordinator's peer ID.
func (g *Group) Self() peer.ID { return g.self }

// Leader is the current leader as this node knows it ("" if none).
func (g *Group) Leader() peer.ID {
	_, id := g.raft.LeaderWithID()
	p, err := peer.Decode(string(id))
	if err != nil {
		return ""
	}
	return p
}

// IsLeader reports whether this node leads the group now.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// Coordinators lists the appointed coordinators, by name, as this node's
// log has them.
func (g *Group) Coordinators() []Coordinator { return g.fsm.coordinators() }

// Voters lists the members of the Raft configuration (who vote and whose
// majority commits).
func (g *Group) Voters() []peer.ID {
	f := g.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []peer.ID
	for _, s := range f.Configuration().Servers {
		if p, err := peer.Decode(string(s.ID)); err == nil && s.Suffrage == raft.Voter {
			out = append(out, p)
		}
	}
	return out
}

// AppliedIndex is the index of the last log entry this node applied.
func (g *Group) AppliedIndex() uint64 { return g.raft.AppliedIndex() }

// allowed reports whether p may speak the group's protocols: a
// coordinator in the log or the Raft configuration, a known one, or one
// that Config.Allow lets in.
func (g *Group) allowed(p peer.ID) bool {
	if g.known[p] || g.fsm.isCoordinator(p) {
		return true
	}
	if g.started.Load() {
		for _, v := range g.Voters() {
			if v == p {
				return true
			}
		}
	}
	return g.cfg.Allow != nil && g.cfg.Allow(p)
}
