package coord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// The name policy in the log. A lone bootstrap keeps its allow-list in its
// registry file and its cap per source address in its configuration; a
// group keeps both in the log, so that every coordinator decides a join
// by the same list and counts the same admissions against the cap: the
// cap counts the members the group has committed, whichever coordinator
// admitted them. Each entry is decided by the registry's own rules
// (Registry.SetAllowNames, AllowName, SetMaxPerAddress), on every
// coordinator alike. Per-student invites need nothing more: a token bound
// to a name is a registry change (membership.OpAddToken) like any other,
// and its name is reserved in every coordinator's registry once it is
// committed.
//
// An import makes a lone bootstrap's registry (its members, names,
// tokens and revocations) the group's when the bootstrap of a network
// that exists starts a group: it is the log's first registry entry, and
// the state machine refuses it once any registry entry was applied, so a
// restart, or a second proposal, cannot import again and undo what the
// group committed since.

// decodePolicy checks the shape of a policy or import command.
func decodePolicy(o op, change json.RawMessage, co *Coordinator, names []string, lift bool, max int, reg json.RawMessage) (command, error) {
	bad := func(why string) (command, error) {
		return command{}, fmt.Errorf("coord: %s command %s: %w", o, why, ErrMalformed)
	}
	if len(change) != 0 || co != nil {
		return bad("with a change or a coordinator")
	}
	c := command{Op: o}
	switch o {
	case opAllowNames:
		if lift && names != nil {
			return bad("both lifts the list and names one")
		}
		if len(names) > maxAllowNames {
			return bad(fmt.Sprintf("names %d names (limit %d)", len(names), maxAllowNames))
		}
		if max != 0 || len(reg) != 0 {
			return bad("with a cap or a registry")
		}
		c.Lift = lift
		if !lift {
			// An empty list admits no name with a shared invite; it
			// encodes as no names at all.
			c.Names = append([]string{}, names...)
		}
	case opAllowName:
		if len(names) != 1 || lift || max != 0 || len(reg) != 0 {
			return bad("needs one name and nothing else")
		}
		c.Names = names
	case opMaxPerAddr:
		if names != nil || lift || len(reg) != 0 {
			return bad("needs a cap and nothing else")
		}
		if max < 0 {
			return bad(fmt.Sprintf("caps at %d", max))
		}
		c.Max = max
	case opImport:
		if names != nil || lift || max != 0 || len(reg) == 0 {
			return bad("needs a registry and nothing else")
		}
		if err := membership.NewMemoryRegistry().RestoreState(reg); err != nil {
			return command{}, fmt.Errorf("coord: import command: %v: %w", err, ErrMalformed)
		}
		c.Registry = reg
	}
	for _, n := range c.Names {
		if len(n) > 256 {
			return bad(fmt.Sprintf("names a name of %d bytes", len(n)))
		}
	}
	return c, nil
}

// applyPolicy applies a policy or import command to the registry; a
// refusal is the registry's decision, the same on every coordinator.
func (f *fsm) applyPolicy(c command) error {
	var err error
	switch c.Op {
	case opAllowNames:
		names := c.Names
		if c.Lift {
			names = nil
		} else if names == nil {
			names = []string{}
		}
		err = f.reg.SetAllowNames(names)
	case opAllowName:
		err = f.reg.AllowName(c.Names[0])
	case opMaxPerAddr:
		if err = f.reg.SetMaxPerAddress(c.Max); err == nil {
			f.mu.Lock()
			f.maxPerAddr = c.Max
			f.mu.Unlock()
		}
	case opImport:
		f.mu.Lock()
		sealed := f.sealed
		f.mu.Unlock()
		if sealed {
			return membership.Refusal("the group's registry has entries already: a registry is imported only as the first")
		}
		err = f.reg.RestoreState(c.Registry)
	}
	if err != nil {
		return membership.Refusal(strings.TrimPrefix(err.Error(), "membership: "))
	}
	return nil
}

// SetAllowNames makes names the only ones shared invites may admit,
// across the group; nil lifts the list (any name may join), and an empty
// list admits no name with a shared invite. Names the registry's rules
// refuse are refused (membership.IsRefusal), naming which.
func (g *Group) SetAllowNames(ctx context.Context, names []string) error {
	cmd := command{Op: opAllowNames, Lift: names == nil, Names: names}
	if names != nil && len(names) == 0 {
		cmd.Names = nil
	}
	if len(names) > maxAllowNames {
		return fmt.Errorf("coord: a list of %d names (limit %d)", len(names), maxAllowNames)
	}
	return g.proposeInto(ctx, cmd, nil)
}

// AllowName adds name to the allow-list in force, across the group. With
// no list in force, or name on it already, it is refused.
func (g *Group) AllowName(ctx context.Context, name string) error {
	return g.proposeInto(ctx, command{Op: opAllowName, Names: []string{name}}, nil)
}

// SetMaxPerAddress caps, across the group, the members one source
// address may have admitted with shared invites (0: no cap).
func (g *Group) SetMaxPerAddress(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("coord: cap per address %d is negative", n)
	}
	return g.proposeInto(ctx, command{Op: opMaxPerAddr, Max: n}, nil)
}

// MaxPerAddress is the cap per source address as this coordinator has
// applied the log (0: none).
func (g *Group) MaxPerAddress() int {
	g.fsm.mu.Lock()
	defer g.fsm.mu.Unlock()
	return g.fsm.maxPerAddr
}
