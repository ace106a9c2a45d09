package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// netnsPrefix begins the name of every network namespace the classroom
// makes. A run's namespaces add its process ID (runPrefix), so a run can
// tell its own from another's, and a crashed run's leftovers from a live
// run's.
const netnsPrefix = "p2pclass-"

// runPrefix begins the names of the namespaces of the run whose process ID
// is pid.
func runPrefix(pid int) string { return netnsPrefix + strconv.Itoa(pid) + "-" }

// The class's private network: every node's address is in 10.77.0.0/16,
// the seeder's 10.77.0.1. It exists only inside the run's namespaces, so
// it meets no other network of the machine.
const (
	netFirst = "10.77.0.0"
	netBits  = 16
	maxNodes = 1<<(32-netBits) - 2 // the seeder and the leechers: all but the network's and the broadcast address
)

// queueDelay sizes each shaped link's queue: it holds this long of traffic
// at the link's rate (at least minQueue bytes), as a campus switch's
// buffer does; beyond it the link drops, and TCP backs off.
const (
	queueDelay = 100 * time.Millisecond
	minQueue   = 128 << 10
)

// nodeLink is one node's link to the class's switch: its upload and
// download rates in bytes/s, 0 for no cap.
type nodeLink struct{ up, down int64 }

// netPlan is one run's network: a switch namespace holding a bridge, and a
// namespace per node (0 the seeder, 1 to N the leechers) joined to the
// bridge by a veth pair. HTB on each side of a pair enforces the node's
// caps: its upload on its own side's egress, its download on the egress of
// the bridge's side, towards it. The names inside the namespaces are
// fixed (br0 and v<node> in the switch, eth0 in a node), so only the
// namespaces' names need the run's prefix.
//
// With delay, an iptables rule in each node's namespace sends every packet
// that enters it on eth0 to NFQUEUE delayQueue, whose releaser (a process
// in that namespace) holds it before the node gets it: the kernel has no
// netem to delay them.
type netPlan struct {
	prefix string     // runPrefix
	links  []nodeLink // one per node
	delay  bool
}

// delayQueue is the NFQUEUE number of each node's namespace that its
// releaser binds.
const delayQueue = 0

// newNetPlan plans the network for a seeder with upload seedUp and the
// leechers with the caps ups and downs (one each, in node order).
func newNetPlan(prefix string, seedUp int64, ups, downs []int64) (netPlan, error) {
	if len(ups) != len(downs) {
		return netPlan{}, fmt.Errorf("network plan: %d upload caps for %d download caps", len(ups), len(downs))
	}
	if n := len(ups) + 1; n > maxNodes {
		return netPlan{}, fmt.Errorf("-shaping tc: %d nodes do not fit the class's /%d network (at most %d)", n, netBits, maxNodes)
	}
	links := []nodeLink{{up: seedUp}}
	for i := range ups {
		links = append(links, nodeLink{up: ups[i], down: downs[i]})
	}
	return netPlan{prefix: prefix, links: links}, nil
}

func (p netPlan) switchNS() string       { return p.prefix + "sw" }
func (p netPlan) nodeNS(node int) string { return p.prefix + "n" + strconv.Itoa(node) }

// namespaces are every namespace of the plan, the switch's first.
func (p netPlan) namespaces() []string {
	out := []string{p.switchNS()}
	for i := range p.links {
		out = append(out, p.nodeNS(i))
	}
	return out
}

// nodeAddr is node's address: the network's (node+1)th.
func nodeAddr(node int) netip.Addr {
	a := netip.MustParseAddr(netFirst).As4()
	h := node + 1
	a[2], a[3] = byte(h>>8), byte(h)
	return netip.AddrFrom4(a)
}

// nodeMAC is the hardware address of node's eth0, which every other node
// holds as a permanent neighbour entry: the class never resolves an
// address by ARP.
//
// The kernel keeps one neighbour table for the whole machine, every
// namespace's entries counted together against net.ipv4.neigh.default.
// gc_thresh3 (1,024 by default), where each laptop of a real class has a
// table of its own. A class of 40 in which everyone talks to everyone
// needs about 1,600 entries: past the limit the kernel logs "neighbor
// table overflow" and a new connection's address is not resolved, so its
// dial times out. In an S4 class that left a few students with 2-5 links
// instead of 30 and made them the last to finish. Permanent entries are
// not counted against the limit.
func nodeMAC(node int) string {
	h := node + 1
	return fmt.Sprintf("02:77:00:00:%02x:%02x", byte(h>>8), byte(h))
}

// listenAddr is the multiaddr node listens on.
func listenAddr(node int) string { return "/ip4/" + nodeAddr(node).String() + "/tcp/0" }

// command is one line of an ip or tc batch, or one iptables command, run
// in a namespace ("" is the classroom's own).
type command struct {
	tool  string // ip, tc or iptables
	netns string
	args  []string
}

func (c command) String() string {
	s := c.tool
	switch {
	case c.tool == "iptables":
		s = "ip netns exec " + c.netns + " iptables" // it has no -n
	case c.netns != "":
		s += " -n " + c.netns
	}
	return s + " " + strings.Join(c.args, " ")
}

// setup is the plan as commands, in order: the namespaces, the bridge and
// the pairs, each node's address, then the shaping.
func (p netPlan) setup() []command {
	var cmds []command
	for _, ns := range p.namespaces() {
		cmds = append(cmds, command{"ip", "", []string{"netns", "add", ns}})
	}
	sw := p.switchNS()
	cmds = append(cmds,
		command{"ip", sw, []string{"link", "add", "br0", "type", "bridge"}},
		command{"ip", sw, []string{"link", "set", "br0", "up"}})
	for i := range p.links {
		v := "v" + strconv.Itoa(i)
		cmds = append(cmds,
			command{"ip", sw, []string{"link", "add", v, "type", "veth", "peer", "name", "eth0", "address", nodeMAC(i), "netns", p.nodeNS(i)}},
			command{"ip", sw, []string{"link", "set", v, "master", "br0", "up"}})
	}
	for i, l := range p.links {
		if l.down > 0 {
			cmds = append(cmds, htb("tc", sw, "v"+strconv.Itoa(i), l.down)...)
		}
	}
	for i, l := range p.links {
		ns := p.nodeNS(i)
		cmds = append(cmds,
			command{"ip", ns, []string{"link", "set", "lo", "up"}},
			command{"ip", ns, []string{"addr", "add", nodeAddr(i).String() + "/" + strconv.Itoa(netBits), "dev", "eth0"}},
			command{"ip", ns, []string{"link", "set", "eth0", "up"}})
		// Every other node's address, resolved once for all (see nodeMAC).
		for j := range p.links {
			if j != i {
				cmds = append(cmds, command{"ip", ns, []string{"neigh", "add", nodeAddr(j).String(),
					"lladdr", nodeMAC(j), "dev", "eth0", "nud", "permanent"}})
			}
		}
		if l.up > 0 {
			cmds = append(cmds, htb("tc", ns, "eth0", l.up)...)
		}
		if p.delay {
			// The raw table's PREROUTING comes first of all: the packet
			// waits before conntrack or routing see it.
			cmds = append(cmds, command{"iptables", ns, []string{"-t", "raw", "-A", "PREROUTING", "-i", "eth0",
				"-j", "NFQUEUE", "--queue-num", strconv.Itoa(delayQueue)}})
		}
	}
	return cmds
}

// htb caps the egress of dev at rate bytes/s: an HTB class of that rate,
// whose queue holds queueDelay of it. HTB counts whole frames, so the
// headers of every packet (about 4 % of a full TCP segment at MTU 1500)
// come out of the rate, as on a real link. The burst, 10 ms of the rate
// and at least a 64 KiB segment offload, keeps the cap tight over any
// window a class measures.
func htb(tool, netns, dev string, rate int64) []command {
	bits := strconv.FormatInt(rate*8, 10) + "bit"
	burst := strconv.FormatInt(max(rate/100, 64<<10), 10)
	limit := strconv.FormatInt(max(int64(float64(rate)*queueDelay.Seconds()), minQueue), 10)
	return []command{
		{tool, netns, []string{"qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"}},
		{tool, netns, []string{"class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb",
			"rate", bits, "ceil", bits, "burst", burst, "cburst", burst, "quantum", "200000"}},
		{tool, netns, []string{"qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "bfifo", "limit", limit}},
	}
}

// teardown deletes the namespaces names. Deleting a node's namespace
// deletes its end of the pair, and with it the bridge's end; deleting the
// switch's deletes the bridge.
func teardown(names []string) []command {
	var cmds []command
	for _, ns := range names {
		cmds = append(cmds, command{"ip", "", []string{"netns", "del", ns}})
	}
	return cmds
}

// ownNamespaces are those of names that begin with prefix.
func ownNamespaces(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// leftovers are those of names that a classroom made and that no running
// classroom owns: the owner's process ID, in the name, is self's (an
// earlier run that had this process's ID) or belongs to no live process.
func leftovers(names []string, self int, alive func(pid int) bool) []string {
	var out []string
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, netnsPrefix)
		if !ok {
			continue
		}
		digits, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(digits)
		if !ok || err != nil || pid <= 0 {
			continue // not a name the classroom makes: not ours to delete
		}
		if pid == self || !alive(pid) {
			out = append(out, n)
		}
	}
	return out
}

// parseNetnsList reads the namespaces' names from the output of ip netns
// list: a name per line, optionally followed by " (id: N)".
func parseNetnsList(out string) []string {
	var names []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// batch is a run of commands that one ip or tc process carries out, with
// -batch, in one namespace; or one iptables command, which has no batch
// mode.
type batch struct {
	tool, netns string
	lines       []string
}

// batches groups consecutive commands of one tool and namespace.
func batches(cmds []command) []batch {
	var out []batch
	for _, c := range cmds {
		if k := len(out) - 1; k >= 0 && out[k].tool == c.tool && out[k].netns == c.netns && c.tool != "iptables" {
			out[k].lines = append(out[k].lines, strings.Join(c.args, " "))
			continue
		}
		out = append(out, batch{tool: c.tool, netns: c.netns, lines: []string{strings.Join(c.args, " ")}})
	}
	return out
}

// args are the tool's arguments for the batch, which reads its lines
// from stdin; force carries on past a failed line. An iptables batch's
// are ip's, which runs iptables in the namespace, and its one line.
func (b batch) args(force bool) []string {
	if b.tool == "iptables" {
		return append([]string{"netns", "exec", b.netns, "iptables"}, strings.Fields(b.lines[0])...)
	}
	var a []string
	if b.netns != "" {
		a = append(a, "-n", b.netns)
	}
	if force {
		a = append(a, "-force")
	}
	return append(a, "-batch", "-")
}
