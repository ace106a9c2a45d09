package p2pshare

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/internal/coord"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// The name policy of a network whose registry a coordinator group keeps.
// The allow-list and the cap per source address are entries of the
// group's log (internal/coord/policy.go): the bootstrap commits
// Config.AllowNames (when set) and Config.MaxPerAddress at each start,
// any coordinator may change the list while it runs (Swarm.AllowName,
// Swarm.SetAllowNames), and every coordinator decides a join by the
// list and cap committed, counting the members the whole group admitted.
// Per-student invites are tokens in the log like any other, so a name
// bound to one is reserved at every coordinator. Approval is asked in the
// log too: see internal/coord/approval.go for where, and why.

// registryFileName is a lone bootstrap's registry in its network folder.
const registryFileName = "registry.json"

// groupImport is the registry a bootstrap that ran alone kept in netDir,
// to start its new group from (nil if it has none): the group's first
// start imports it, so that the members it admitted, the names they hold,
// its tokens and its revocations stay the network's. Once the group has a
// log, the file is no longer read.
func groupImport(netDir string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(netDir, registryFileName)
	if exists(filepath.Join(netDir, coordDirName)) || (!exists(path) && !exists(path+".log")) {
		return nil, nil
	}
	reg, err := membership.OpenRegistry(path)
	if err != nil {
		return nil, fmt.Errorf("p2pshare: the registry to start the coordinator group from: %w", err)
	}
	b, err := reg.MarshalState()
	if err != nil {
		return nil, fmt.Errorf("p2pshare: the registry to start the coordinator group from: %w", err)
	}
	if log != nil {
		log.Info("the new coordinator group starts from this bootstrap's registry", "file", path, "members", len(reg.Members()), "revoked", len(reg.Revoked()))
	}
	return b, nil
}

// commitPolicy commits the bootstrap's configured name policy to its
// group: the allow-list when Config.AllowNames is set, the cap per
// address, and whether joins need approval (Config.Approve). With no majority of the coordinators up it says so in the log
// and goes on: the group decides by the policy it has committed.
func commitPolicy(cfg *Config, g *coord.Group, log *slog.Logger) {
	// One bound for all: a restart with no majority up waits once.
	ctx, cancel := context.WithTimeout(context.Background(), policyCommitTimeout)
	defer cancel()
	// The log may not be applied yet on a restart: the cap and the need
	// for approval are committed whatever the state seems to be.
	var err error
	if cfg.AllowNames != nil {
		if err = g.SetAllowNames(ctx, cfg.AllowNames); err != nil {
			err = fmt.Errorf("the list of %d names: %w", len(cfg.AllowNames), err)
		}
	}
	if err == nil {
		if err = g.SetMaxPerAddress(ctx, cfg.MaxPerAddress); err != nil {
			err = fmt.Errorf("the cap of %d members per address: %w", cfg.MaxPerAddress, err)
		}
	}
	if err == nil {
		if err = g.RequireApproval(ctx, cfg.Approve != nil); err != nil {
			err = fmt.Errorf("whether joins need approval (%v): %w", cfg.Approve != nil, err)
		}
	}
	if err != nil && log != nil {
		log.Warn("the coordinator group keeps the name policy it had: this start's could not be committed", "err", err)
	}
}

// policyCommitTimeout bounds commitPolicy.
const policyCommitTimeout = 15 * time.Second

// groupApprover is this node's operator, as the group asks it about the
// joins held for approval at any coordinator (internal/coord/approval.go):
// Config.Approve, or nil.
func groupApprover(cfg *Config) coord.Approver {
	if cfg.Approve == nil {
		return nil
	}
	return func(ctx context.Context, a coord.Ask) (bool, string) {
		return cfg.Approve(ctx, JoinRequest{Peer: a.Peer, Name: a.Name, Role: a.Role, Addr: a.Addr})
	}
}

// groupAsk is a coordinator's approval of the joins it holds: the
// question goes to the group's log, and the first answer committed, from
// whichever coordinator's operator, decides. The join waits for it only
// while the group says joins need approval (Group.ApprovalRequired).
func groupAsk(g *coord.Group, name string) func(context.Context, membership.Request) (bool, string) {
	return func(ctx context.Context, r membership.Request) (bool, string) {
		ans, err := g.Ask(ctx, coord.Ask{Peer: r.Peer, Name: r.Name, Role: string(r.Role), Addr: r.Addr, Via: name})
		switch {
		case err != nil && ctx.Err() != nil:
			return false, "" // the time ran out, or the newcomer hung up: the bootstrap says which
		case err != nil:
			return false, "the coordinators could not record the request: " + strings.TrimPrefix(err.Error(), "coord: ")
		case !ans.OK && ans.Reason != "" && ans.By != "":
			return false, fmt.Sprintf("%s (%s)", ans.Reason, ans.By)
		}
		return ans.OK, ans.Reason
	}
}

// groupAllowName and groupSetAllowNames change the list of names a group
// keeps, from any of its coordinators.
func (s *Swarm) groupAllowName(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	return groupErr(s.net.group.AllowName(s.ctx, name))
}

func (s *Swarm) groupSetAllowNames(names []string) error {
	for i, n := range names {
		if err := CheckName(n); err != nil {
			return fmt.Errorf("p2pshare: allowed name %d of %d: %s", i+1, len(names), strings.TrimPrefix(err.Error(), "p2pshare: "))
		}
	}
	return groupErr(s.net.group.SetAllowNames(s.ctx, names))
}

// groupErr is a group's answer to a change of its policy, for the caller.
func groupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case membership.IsRefusal(err):
		return fmt.Errorf("p2pshare: %s", err)
	}
	return fmt.Errorf("p2pshare: the coordinator group could not record the list of names: %w", err)
}
