package membership

import (
	"fmt"
	"slices"
	"sort"
)

// SetAllowNames makes names the only ones shared invites may admit (an
// allow-list, e.g. a class's roll numbers), replacing any list before;
// nil lifts the list: any name may join. Every name must pass the rules
// for new names (checkNewName); the error says which did not, by its
// position in names. One durable write.
func (r *Registry) SetAllowNames(names []string) error {
	var next *allowList
	if names != nil {
		next = &allowList{Names: []string{}}
		seen := map[string]bool{}
		for i, n := range names {
			if err := checkNewName(n); err != nil {
				return fmt.Errorf("membership: allowed name %d of %d: %w", i+1, len(names), err)
			}
			if k := nameKey(n); !seen[k] {
				seen[k] = true
				next.Names = append(next.Names, n)
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sameAllow(r.st.Allow, next) {
		return nil
	}
	prev := r.st.Allow
	r.st.Allow = next
	if err := r.save(); err != nil {
		r.st.Allow = prev
		return err
	}
	r.reindex()
	return nil
}

func sameAllow(a, b *allowList) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Names, b.Names)
}

// AllowName adds name to the allow-list in force. With no list in force
// it is an error: any name may join already, and a list of one would
// shut everyone else out.
func (r *Registry) AllowName(name string) error {
	if err := checkNewName(name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Allow == nil {
		return fmt.Errorf("membership: no list of names is in force (any name may join), so %q need not be added", name)
	}
	if r.policy.Allow[nameKey(name)] {
		return fmt.Errorf("membership: name %q is on the list already", name)
	}
	prev := r.st.Allow
	r.st.Allow = &allowList{Names: append(slices.Clip(prev.Names), name)}
	if err := r.save(); err != nil {
		r.st.Allow = prev
		return err
	}
	r.reindex()
	return nil
}

// AllowNames returns the allow-list in force, sorted, and whether there is
// one.
func (r *Registry) AllowNames() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Allow == nil {
		return nil, false
	}
	out := slices.Clone(r.st.Allow.Names)
	sort.Strings(out)
	return out, true
}

// setMaxPerAddr sets the cap on members admitted with shared invites from
// one source address (0: none); it is configuration, not persisted.
func (r *Registry) setMaxPerAddr(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy.MaxPerAddr = n
}

// SetMaxPerAddress sets the cap on members admitted with shared invites
// from one source address (0: none), counted over the members this
// registry holds: a coordinator group's state machine sets it from its
// log, so that every coordinator counts the whole group's admissions.
func (r *Registry) SetMaxPerAddress(n int) error {
	if n < 0 {
		return fmt.Errorf("membership: cap per address %d is negative", n)
	}
	r.setMaxPerAddr(n)
	return nil
}

// MaxPerAddress is the cap per source address in force (0: none).
func (r *Registry) MaxPerAddress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.policy.MaxPerAddr
}

// nameInUse says, as an error, that name is held by a member or reserved
// by a revocation not lifted.
func (r *Registry) nameInUse(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := nameKey(name)
	if q, ok := r.names[k]; ok {
		return fmt.Errorf("membership: name %q is already held by peer %s (as %q)", name, q, r.st.Members[q.String()].Name)
	}
	if rv, ok := r.reservedName(k); ok {
		return fmt.Errorf("membership: name %q was revoked (as %q, peer %s) and stays reserved until lifted", name, rv.Name, rv.Peer)
	}
	return nil
}
