package flagx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Multiaddr is a flag.Value holding one multiaddr, parsed when the flag is
// set: -listen /ip4/0.0.0.0/tcp/4001.
type Multiaddr struct{ Addr ma.Multiaddr }

// String implements flag.Value.
func (m *Multiaddr) String() string {
	if m == nil || m.Addr == nil {
		return ""
	}
	return m.Addr.String()
}

// Set implements flag.Value.
func (m *Multiaddr) Set(s string) error {
	a, err := ma.NewMultiaddr(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not a multiaddr: %v", err)
	}
	m.Addr = a
	return nil
}

// Peers is a flag.Value collecting peers from every use of the flag, each
// value split at commas, every address ending in /p2p/<peer ID>; addresses
// of one peer are merged: "-x /ip4/…/p2p/A,/ip6/…/p2p/A -x /ip4/…/p2p/B"
// holds A (two addresses) and B.
type Peers []peer.AddrInfo

// String implements flag.Value.
func (l *Peers) String() string {
	if l == nil {
		return ""
	}
	var parts []string
	for _, ai := range *l {
		addrs, _ := peer.AddrInfoToP2pAddrs(&ai)
		for _, a := range addrs {
			parts = append(parts, a.String())
		}
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (l *Peers) Set(s string) error {
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		a, err := ma.NewMultiaddr(p)
		if err != nil {
			return fmt.Errorf("%q is not a multiaddr: %v", p, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if errors.Is(err, peer.ErrInvalidAddr) {
			return fmt.Errorf("%q does not end in /p2p/<peer ID>", p)
		} else if err != nil {
			return fmt.Errorf("%q: %v", p, err)
		}
		l.add(*ai)
	}
	return nil
}

func (l *Peers) add(ai peer.AddrInfo) {
	for i := range *l {
		if (*l)[i].ID == ai.ID {
			(*l)[i].Addrs = append((*l)[i].Addrs, ai.Addrs...)
			return
		}
	}
	*l = append(*l, ai)
}
