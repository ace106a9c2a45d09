package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// bridgeFilters are the switch namespace's settings that pass bridged
// frames through the machine's firewall. Where the kernel's br_netfilter
// is loaded (container runtimes load it), they are on in every new
// namespace, and every frame between two nodes crosses iptables' hooks in
// the switch: in S2 under tc, perf put br_nf_* at about 2.5 % of the
// machine, charged to the nodes whose packets they were. A campus switch
// filters nothing.
var bridgeFilters = []string{
	"/proc/sys/net/bridge/bridge-nf-call-iptables",
	"/proc/sys/net/bridge/bridge-nf-call-ip6tables",
	"/proc/sys/net/bridge/bridge-nf-call-arptables",
}

// plainSwitch turns the bridge filters off in the switch namespace ns.
// They are per namespace: the machine's own stay as they are. Without
// br_netfilter there is nothing to turn off.
func plainSwitch(ns string) error {
	return inNamespace(ns, func() error {
		for _, p := range bridgeFilters {
			err := os.WriteFile(p, []byte("0\n"), 0o644)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("turning the switch's %s off: %w", p, err)
			}
		}
		return nil
	})
}
