package examples_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCoordinatorsPartitionedInNamespaces cuts a coordinator off the
// network, with real processes each in a network namespace of its own on
// one bridge: the bootstrap A (seeder -coordinators) and the co-coordinators
// B and C (seeder -invite … -coordinator), and the students. C's link to
// the bridge goes down: a newcomer beside C (in its namespace), which
// reaches C alone, is refused and told that no majority of the coordinators is reachable; one
// on the bridge is admitted through A and fetches the share. C's link
// comes back up: C catches up from the log, and refuses an invite for the
// name the majority gave out meanwhile, from its own registry.
func TestCoordinatorsPartitionedInNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("slow; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux's")
	}
	if os.Geteuid() != 0 {
		t.Skip("making network namespaces needs root (CAP_NET_ADMIN); not root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skipf("network namespaces need ip from iproute2: %v", err)
	}
	bin := build(t, "seeder", "leecher")
	// What a crashed run leaves: a namespace named for a process that
	// cannot exist, its ID above the kernel's largest.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	crashed := coordNetnsPrefix + strconv.Itoa(pidMax+1) + "-sw"
	if out, err := exec.Command(ip, "netns", "add", crashed).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", crashed, err, out)
	}
	n := openNetns(t, ip, "a", "b", "c", "s")
	if slices.Contains(n.list(t), crashed) {
		_ = exec.Command(ip, "netns", "del", crashed).Run()
		t.Errorf("%s, a crashed run's namespace, is still there", crashed)
	}
	dir := t.TempDir()
	src, want := randomFile(t, dir, 256<<10)

	seeder := func(node string, args ...string) *console {
		all := append([]string{"netns", "exec", n.ns(node), bin["seeder"], "-file", src, "-listen", n.listen(node),
			"-data", filepath.Join(dir, node), "-log-level", "warn"}, args...)
		return startConsoleCmd(t, exec.Command(ip, all...))
	}
	a := seeder("a", "-coordinators", "ta-b,ta-c", "-name", "teacher")
	seeder("b", "-invite", a.s.Invite, "-name", "ta-b", "-coordinator")
	c := seeder("c", "-invite", a.s.Invite, "-name", "ta-c", "-coordinator") // its line comes once it is appointed
	// A newcomer that tries a contact out of reach first spends some 20 s
	// on it (4 dials), then up to 10 s at a coordinator with no majority.
	leech := func(node, name string, more ...string) result {
		data := filepath.Join(dir, name)
		return runWithin(t, 2*deadline, ip, append([]string{"netns", "exec", n.ns(node), bin["leecher"], "-invite", a.s.Invite, "-name", name, "-data", data,
			"-infohash", a.s.Infohash, "-out", filepath.Join(data, "copy"), "-listen", n.listen(node), "-exit-when-done"}, more...)...)
	}

	n.link(t, "c", false)
	cut := time.Now()
	// A's invite, which C's log holds since before C was appointed: A is
	// out of reach, and -bootstrap names C.
	r := leech("c", "s-min", "-bootstrap", c.s.Addrs[0])
	if r.code == 0 || !strings.Contains(r.stderr, "no majority of the coordinators is reachable") {
		t.Fatalf("a newcomer beside C, cut off: exit %d, want a refusal saying no majority of the coordinators is reachable\n%s", r.code, r.stderr)
	}
	t.Logf("beside C, cut off: refused %v after the cut: %s", time.Since(cut).Round(10*time.Millisecond), lastLine(r.stderr))
	if r := leech("s", "s-maj"); r.code != 0 {
		t.Fatalf("a newcomer on the bridge, through A, with C cut off: exit %d\n%s", r.code, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "s-maj", "copy")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("s-maj's copy differs from the share (%v)", err)
	}
	t.Logf("s-maj admitted by the majority and done %v after the cut", time.Since(cut).Round(10*time.Millisecond))

	n.link(t, "c", true)
	healed := time.Now()
	// C decides an invite's name from its own registry: once it holds
	// s-maj, it refuses it.
	for end := time.Now().Add(2 * deadline); ; {
		l := c.answer("invite s-maj", "seeder: invite", "p2pshare://")
		if strings.Contains(l, `name "s-maj" is already held by peer`) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("C does not know of s-maj %v after the link came back; it said: %s", 2*deadline, l)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("C caught up %v after the link came back", time.Since(healed).Round(10*time.Millisecond))
}

// answer types cmd and waits for the seeder's line that begins with one
// of wants, which it returns.
func (c *console) answer(cmd string, wants ...string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatal(err)
	}
	timeout := time.After(deadline)
	for {
		select {
		case l := <-c.lines:
			for _, w := range wants {
				if strings.HasPrefix(l, w) {
					return l
				}
			}
		case <-timeout:
			c.t.Fatalf("the seeder answered nothing to %q within %v", cmd, deadline)
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// coordNetnsPrefix begins the name of every namespace these tests make; the
// test process's ID follows, so that a crashed run's are told from a live
// one's.
const coordNetnsPrefix = "p2pcoord-"

// netns is a test's network: a switch namespace with a bridge, and a
// namespace per node joined to it by a veth pair (v<i> in the switch, eth0
// in the node), node i at 10.78.0.i+1/24.
type netns struct {
	ip     string
	prefix string
	nodes  []string
}

// openNetns removes what crashed runs left, then makes the network. Its
// namespaces are removed at the test's end, whatever the outcome; the
// processes in them, started later, are stopped before (cleanups run
// last-in first-out).
func openNetns(t *testing.T, ip string, nodes ...string) *netns {
	t.Helper()
	n := &netns{ip: ip, prefix: coordNetnsPrefix + strconv.Itoa(os.Getpid()) + "-", nodes: nodes}
	for _, name := range n.list(t) {
		rest, ok := strings.CutPrefix(name, coordNetnsPrefix)
		digits, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(digits)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + digits); pid == os.Getpid() || err != nil {
			t.Logf("removing network namespace %s, left by a test that is no longer running", name)
			_ = exec.Command(ip, "netns", "del", name).Run()
		}
	}
	t.Cleanup(func() {
		for _, name := range n.list(t) {
			if strings.HasPrefix(name, n.prefix) {
				if out, err := exec.Command(ip, "netns", "del", name).CombinedOutput(); err != nil {
					t.Errorf("removing network namespace %s: %v: %s", name, err, out)
				}
			}
		}
	})
	sw := n.prefix + "sw"
	cmds := [][]string{{"netns", "add", sw}, {"-n", sw, "link", "add", "br0", "type", "bridge"}, {"-n", sw, "link", "set", "br0", "up"}}
	for i, node := range nodes {
		ns := n.ns(node)
		cmds = append(cmds, []string{"netns", "add", ns},
			[]string{"-n", sw, "link", "add", "v" + strconv.Itoa(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"-n", sw, "link", "set", "v" + strconv.Itoa(i), "master", "br0", "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "addr", "add", n.addr(node) + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"})
	}
	for _, args := range cmds {
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return n
}

func (n *netns) index(node string) int {
	for i, x := range n.nodes {
		if x == node {
			return i
		}
	}
	panic("no node " + node)
}

func (n *netns) ns(node string) string     { return n.prefix + node }
func (n *netns) addr(node string) string   { return fmt.Sprintf("10.78.0.%d", n.index(node)+1) }
func (n *netns) listen(node string) string { return "/ip4/" + n.addr(node) + "/tcp/0" }

// link takes node's link to the bridge down, or up again: the switch's
// end of its pair, so that node still reaches itself.
func (n *netns) link(t *testing.T, node string, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	args := []string{"-n", n.prefix + "sw", "link", "set", "v" + strconv.Itoa(n.index(node)), state}
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// list names the machine's network namespaces.
func (n *netns) list(t *testing.T) []string {
	out, err := exec.Command(n.ip, "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}
