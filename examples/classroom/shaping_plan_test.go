package main

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestNodeAddr(t *testing.T) {
	tests := []struct {
		node int
		want string
	}{
		{0, "10.77.0.1"}, // the seeder
		{1, "10.77.0.2"},
		{254, "10.77.0.255"}, // a host address in a /16
		{255, "10.77.1.0"},
		{maxNodes - 1, "10.77.255.254"}, // the last below the broadcast address
	}
	for _, tt := range tests {
		if got := nodeAddr(tt.node).String(); got != tt.want {
			t.Errorf("nodeAddr(%d) = %s, want %s", tt.node, got, tt.want)
		}
	}
	if got := listenAddr(3); got != "/ip4/10.77.0.4/tcp/0" {
		t.Errorf("listenAddr(3) = %s", got)
	}
}

func TestNewNetPlan(t *testing.T) {
	p, err := newNetPlan("p2pclass-42-", 8, []int64{4, 0}, []int64{8, 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []nodeLink{{up: 8}, {up: 4, down: 8}, {down: 2}}; !reflect.DeepEqual(p.links, want) {
		t.Errorf("links %v, want %v", p.links, want)
	}
	if want := []string{"p2pclass-42-sw", "p2pclass-42-n0", "p2pclass-42-n1", "p2pclass-42-n2"}; !reflect.DeepEqual(p.namespaces(), want) {
		t.Errorf("namespaces %v, want %v", p.namespaces(), want)
	}
	if _, err := newNetPlan("x-", 0, make([]int64, maxNodes), make([]int64, maxNodes)); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("a class larger than the network: %v, want an error", err)
	}
	if _, err := newNetPlan("x-", 0, make([]int64, 2), make([]int64, 3)); err == nil {
		t.Error("2 upload caps for 3 download caps: no error")
	}
}

// TestNetPlanSetup spells out the commands for a seeder capped at 8 MiB/s
// up and one leecher capped at 4 MiB/s up and 1 MiB/s down.
func TestNetPlanSetup(t *testing.T) {
	p, err := newNetPlan("p2pclass-42-", 8*mib, []int64{4 * mib}, []int64{1 * mib})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.setup() {
		got = append(got, c.String())
	}
	want := []string{
		"ip netns add p2pclass-42-sw",
		"ip netns add p2pclass-42-n0",
		"ip netns add p2pclass-42-n1",
		"ip -n p2pclass-42-sw link add br0 type bridge",
		"ip -n p2pclass-42-sw link set br0 up",
		"ip -n p2pclass-42-sw link add v0 type veth peer name eth0 address 02:77:00:00:00:01 netns p2pclass-42-n0",
		"ip -n p2pclass-42-sw link set v0 master br0 up",
		"ip -n p2pclass-42-sw link add v1 type veth peer name eth0 address 02:77:00:00:00:02 netns p2pclass-42-n1",
		"ip -n p2pclass-42-sw link set v1 master br0 up",
		// The leecher's download: the bridge's side, towards it. The
		// seeder downloads nothing worth a cap.
		"tc -n p2pclass-42-sw qdisc add dev v1 root handle 1: htb default 1",
		"tc -n p2pclass-42-sw class add dev v1 parent 1: classid 1:1 htb rate 8388608bit ceil 8388608bit burst 65536 cburst 65536 quantum 200000",
		"tc -n p2pclass-42-sw qdisc add dev v1 parent 1:1 handle 10: bfifo limit 131072",
		"ip -n p2pclass-42-n0 link set lo up",
		"ip -n p2pclass-42-n0 addr add 10.77.0.1/16 dev eth0",
		"ip -n p2pclass-42-n0 link set eth0 up",
		// Each knows the other's hardware address: no ARP in the class.
		"ip -n p2pclass-42-n0 neigh add 10.77.0.2 lladdr 02:77:00:00:00:02 dev eth0 nud permanent",
		// Uploads: each node's own side.
		"tc -n p2pclass-42-n0 qdisc add dev eth0 root handle 1: htb default 1",
		"tc -n p2pclass-42-n0 class add dev eth0 parent 1: classid 1:1 htb rate 67108864bit ceil 67108864bit burst 83886 cburst 83886 quantum 200000",
		"tc -n p2pclass-42-n0 qdisc add dev eth0 parent 1:1 handle 10: bfifo limit 838860",
		"ip -n p2pclass-42-n1 link set lo up",
		"ip -n p2pclass-42-n1 addr add 10.77.0.2/16 dev eth0",
		"ip -n p2pclass-42-n1 link set eth0 up",
		"ip -n p2pclass-42-n1 neigh add 10.77.0.1 lladdr 02:77:00:00:00:01 dev eth0 nud permanent",
		"tc -n p2pclass-42-n1 qdisc add dev eth0 root handle 1: htb default 1",
		"tc -n p2pclass-42-n1 class add dev eth0 parent 1: classid 1:1 htb rate 33554432bit ceil 33554432bit burst 65536 cburst 65536 quantum 200000",
		"tc -n p2pclass-42-n1 qdisc add dev eth0 parent 1:1 handle 10: bfifo limit 419430",
	}
	if !slices.Equal(got, want) {
		t.Errorf("setup:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNetPlanSetupDelay: with -rtt, each node's namespace gets the rule
// that queues every packet entering it for its releaser, after its links
// and queues.
func TestNetPlanSetupDelay(t *testing.T) {
	p, err := newNetPlan("p2pclass-42-", 0, []int64{0}, []int64{0})
	if err != nil {
		t.Fatal(err)
	}
	p.delay = true
	var got []string
	for _, c := range p.setup() {
		got = append(got, c.String())
	}
	want := []string{
		"ip netns add p2pclass-42-sw",
		"ip netns add p2pclass-42-n0",
		"ip netns add p2pclass-42-n1",
		"ip -n p2pclass-42-sw link add br0 type bridge",
		"ip -n p2pclass-42-sw link set br0 up",
		"ip -n p2pclass-42-sw link add v0 type veth peer name eth0 address 02:77:00:00:00:01 netns p2pclass-42-n0",
		"ip -n p2pclass-42-sw link set v0 master br0 up",
		"ip -n p2pclass-42-sw link add v1 type veth peer name eth0 address 02:77:00:00:00:02 netns p2pclass-42-n1",
		"ip -n p2pclass-42-sw link set v1 master br0 up",
		"ip -n p2pclass-42-n0 link set lo up",
		"ip -n p2pclass-42-n0 addr add 10.77.0.1/16 dev eth0",
		"ip -n p2pclass-42-n0 link set eth0 up",
		"ip -n p2pclass-42-n0 neigh add 10.77.0.2 lladdr 02:77:00:00:00:02 dev eth0 nud permanent",
		"ip netns exec p2pclass-42-n0 iptables -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0",
		"ip -n p2pclass-42-n1 link set lo up",
		"ip -n p2pclass-42-n1 addr add 10.77.0.2/16 dev eth0",
		"ip -n p2pclass-42-n1 link set eth0 up",
		"ip -n p2pclass-42-n1 neigh add 10.77.0.1 lladdr 02:77:00:00:00:01 dev eth0 nud permanent",
		"ip netns exec p2pclass-42-n1 iptables -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("setup:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// iptables has no batch mode: each rule is a command of its own, run
	// in its namespace by ip netns exec.
	var args []string
	for _, b := range batches(p.setup()) {
		if b.tool == "iptables" {
			args = append(args, strings.Join(b.args(true), " "))
		}
	}
	if want := []string{
		"netns exec p2pclass-42-n0 iptables -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0",
		"netns exec p2pclass-42-n1 iptables -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0",
	}; !slices.Equal(args, want) {
		t.Errorf("iptables batches' args:\n%s\nwant:\n%s", strings.Join(args, "\n"), strings.Join(want, "\n"))
	}
	if got := batches([]command{{"iptables", "a", []string{"-L"}}, {"iptables", "a", []string{"-S"}}}); len(got) != 2 {
		t.Errorf("two iptables commands in one namespace make %d batches, want 2", len(got))
	}
}

func TestBatches(t *testing.T) {
	p, err := newNetPlan("p2pclass-42-", 0, []int64{4 * mib, 0}, []int64{0, 1 * mib})
	if err != nil {
		t.Fatal(err)
	}
	// One batch a tool and namespace in a row: the namespaces, the
	// switch's links, its queues, then each node's links and queues
	// where it has a cap.
	var got []string
	lines := 0
	for _, b := range batches(p.setup()) {
		got = append(got, b.tool+" "+strings.Join(b.args(false), " "))
		lines += len(b.lines)
	}
	want := []string{
		"ip -batch -",
		"ip -n p2pclass-42-sw -batch -",
		"tc -n p2pclass-42-sw -batch -",
		"ip -n p2pclass-42-n0 -batch -",
		"ip -n p2pclass-42-n1 -batch -",
		"tc -n p2pclass-42-n1 -batch -",
		"ip -n p2pclass-42-n2 -batch -",
	}
	if !slices.Equal(got, want) {
		t.Errorf("batches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(p.setup()); lines != n {
		t.Errorf("the batches hold %d lines, the plan %d commands", lines, n)
	}
	if got := (batch{tool: "ip"}).args(true); !slices.Equal(got, []string{"-force", "-batch", "-"}) {
		t.Errorf("a forced batch's args: %q", got)
	}
}

func TestLeftovers(t *testing.T) {
	names := []string{
		"p2pclass-100-sw", "p2pclass-100-n0", // a run that crashed
		"p2pclass-200-sw", "p2pclass-200-n3", // a run still going
		"p2pclass-300-n1", // an earlier run with this process's ID
		"p2pclass-x-sw",   // not a name the classroom makes
		"p2pclass--sw",
		"p2pclass-400",
		"blue", "p2pclass", // someone else's
	}
	alive := func(pid int) bool { return pid == 200 || pid == 300 }
	got := leftovers(names, 300, alive)
	want := []string{"p2pclass-100-sw", "p2pclass-100-n0", "p2pclass-300-n1"}
	if !slices.Equal(got, want) {
		t.Errorf("leftovers = %q, want %q", got, want)
	}
	if got := ownNamespaces(names, runPrefix(200)); !slices.Equal(got, []string{"p2pclass-200-sw", "p2pclass-200-n3"}) {
		t.Errorf("ownNamespaces(%s) = %q", runPrefix(200), got)
	}
	if got := teardown([]string{"a", "b"}); len(got) != 2 || got[1].String() != "ip netns del b" {
		t.Errorf("teardown = %v", got)
	}
}

func TestParseNetnsList(t *testing.T) {
	out := "p2pclass-7-n1 (id: 3)\np2pclass-7-sw (id: 1)\n\nblue\n"
	if got, want := parseNetnsList(out), []string{"p2pclass-7-n1", "p2pclass-7-sw", "blue"}; !slices.Equal(got, want) {
		t.Errorf("parseNetnsList = %q, want %q", got, want)
	}
}

// TestUntold checks that a node in a namespace is told no cap: the kernel
// enforces them.
func TestUntold(t *testing.T) {
	o := untold(2, nodeOptions{role: "leecher", up: 4 * mib, down: 8 * mib, listen: "/ip4/127.0.0.1/tcp/0"})
	args := strings.Join(o.args(), " ")
	for _, want := range []string{"-role leecher", "-listen /ip4/10.77.0.3/tcp/0", "-up 0 ", "-down 0 "} {
		if !strings.Contains(args, want) {
			t.Errorf("node args %q lack %q", args, want)
		}
	}
}
