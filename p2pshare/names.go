package p2pshare

import "github.com/p2pshare/p2pshare/internal/membership"

// CheckName says whether name may be given to a newcomer, as Config.Name,
// in Config.AllowNames or as InviteOptions.Name: letters and digits of one
// script, single spaces and - _ . ', nothing invisible and no look-alike
// forms (ſ1234 beside s1234). The error names the first bad character and
// its position.
func CheckName(name string) error {
	if err := membership.CheckNewName(name); err != nil {
		return public("", err)
	}
	return nil
}

// AllowName adds name to the bootstrap's allow-list (Config.AllowNames),
// kept with its registry, so that a shared invite may admit it from now
// on. With no list in force it is an error: any name may join already.
// Only the bootstrap node keeps the list, or, in a coordinator group, any
// coordinator, for the whole group.
func (s *Swarm) AllowName(name string) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node keeps the list of names")
	}
	if s.net.group != nil {
		return s.groupAllowName(name)
	}
	if err := s.net.boot.Registry().AllowName(name); err != nil {
		return public("", err)
	}
	return nil
}

// SetAllowNames replaces the bootstrap's allow-list with names (an
// edited list, reloaded), kept with its registry; nil lifts the list, so
// that any name may join. Members already admitted stay members. Every
// name must pass CheckName; the error names the first that does not, by
// its position. Only the bootstrap node keeps the list, or, in a
// coordinator group, any coordinator, for the whole group.
func (s *Swarm) SetAllowNames(names []string) error {
	if s.net.boot == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node keeps the list of names")
	}
	if s.net.group != nil {
		return s.groupSetAllowNames(names)
	}
	if err := s.net.boot.Registry().SetAllowNames(names); err != nil {
		return public("", err)
	}
	return nil
}

// AllowNames returns the bootstrap's allow-list, sorted, and whether one is
// in force (false: any name may join). A member that is not the bootstrap
// has none.
func (s *Swarm) AllowNames() ([]string, bool) {
	if s.net.boot == nil {
		return nil, false
	}
	return s.net.boot.Registry().AllowNames()
}
