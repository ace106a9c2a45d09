package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// How the caps are enforced: -shaping app tells each node its caps, which
// its token buckets keep; -shaping tc tells the nodes nothing and has the
// kernel enforce them, every node in a network namespace of its own.
const (
	shapingApp = "app"
	shapingTC  = "tc"
)

// errNotRoot is why -shaping tc cannot run without privileges.
var errNotRoot = errors.New("-shaping tc needs root (CAP_NET_ADMIN) to create network namespaces; run the classroom as root, or use -shaping app")

// tcTools finds ip and tc (and, with delay, iptables), and checks that
// this process may use them to make namespaces.
func tcTools(delay bool) (ip, tc string, err error) {
	if runtime.GOOS != "linux" {
		return "", "", fmt.Errorf("-shaping tc needs Linux's network namespaces; this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return "", "", errNotRoot
	}
	if ip, err = exec.LookPath("ip"); err == nil {
		tc, err = exec.LookPath("tc")
	}
	if err != nil {
		return "", "", fmt.Errorf("-shaping tc needs ip and tc from iproute2: %w", err)
	}
	if _, err := exec.LookPath("iptables"); delay && err != nil {
		return "", "", fmt.Errorf("-rtt needs iptables, for its NFQUEUE target (Debian: apt-get install iptables): %w", err)
	}
	return ip, tc, nil
}

// tcNetwork is a run's network of namespaces, from openTCNetwork to close.
type tcNetwork struct {
	ip, tc string // the tools' paths
	plan   netPlan
}

// openTCNetwork removes what crashed runs left behind, then makes the
// plan's namespaces, links and queues. On failure it removes what it made.
func openTCNetwork(ctx context.Context, plan netPlan, log io.Writer) (*tcNetwork, error) {
	ip, tc, err := tcTools(plan.delay)
	if err != nil {
		return nil, err
	}
	n := &tcNetwork{ip: ip, tc: tc, plan: plan}
	names, err := n.list()
	if err != nil {
		return nil, err
	}
	// Another classroom starting now may remove the same leftovers; and
	// ours have names of their own, so any that stay are in no one's way.
	if old := leftovers(names, os.Getpid(), processAlive); len(old) > 0 {
		what := fmt.Sprintf("%d network namespaces", len(old))
		if len(old) == 1 {
			what = "a network namespace"
		}
		fmt.Fprintf(log, "classroom: removing %s left by a classroom that is no longer running (%s…)\n", what, old[0])
		if err := n.remove(old); err != nil {
			fmt.Fprintf(log, "classroom: %v\n", err)
		}
	}
	err = n.run(ctx, plan.setup(), false)
	if err == nil {
		err = plainSwitch(plan.switchNS())
	}
	if err != nil {
		if cerr := n.close(); cerr != nil {
			fmt.Fprintf(log, "classroom: %v\n", cerr)
		}
		return nil, fmt.Errorf("-shaping tc: making the class's network: %w", err)
	}
	return n, nil
}

// close deletes every namespace of the run, whichever exist; the nodes in
// them should have stopped.
func (n *tcNetwork) close() error {
	names, err := n.list()
	if err != nil {
		names = n.plan.namespaces() // delete them blind; -force carries on past the missing
	}
	return n.remove(ownNamespaces(names, n.plan.prefix))
}

// remove deletes the namespaces names. It fails only if some of them are
// still there afterwards: one that is already gone is what was wanted.
func (n *tcNetwork) remove(names []string) error {
	if len(names) == 0 {
		return nil
	}
	err := n.run(context.Background(), teardown(names), true)
	if err == nil {
		return nil
	}
	now, lerr := n.list()
	if lerr != nil {
		return fmt.Errorf("removing network namespaces: %w", err)
	}
	var left []string
	for _, name := range names {
		if slices.Contains(now, name) {
			left = append(left, name)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("network namespaces %s remain: %w", strings.Join(left, ", "), err)
	}
	return nil
}

// list names the machine's network namespaces.
func (n *tcNetwork) list() ([]string, error) {
	out, err := exec.Command(n.ip, "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w%s", err, stderrOf(err))
	}
	return parseNetnsList(string(out)), nil
}

// run carries out cmds, a batch per run of one tool and namespace.
func (n *tcNetwork) run(ctx context.Context, cmds []command, force bool) error {
	for _, b := range batches(cmds) {
		path := n.ip // and ip netns exec runs iptables
		if b.tool == "tc" {
			path = n.tc
		}
		cmd := exec.CommandContext(ctx, path, b.args(force)...)
		if b.tool != "iptables" {
			cmd.Stdin = strings.NewReader(strings.Join(b.lines, "\n") + "\n")
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w: %s", b.tool, strings.Join(b.args(force), " "), err, oneLine(out.String()))
		}
	}
	return nil
}

// processAlive says whether a process with ID pid runs on this machine.
func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// stderrOf is what a command that failed wrote on stderr, if exec kept it.
func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(exit.Stderr) > 0 {
		return ": " + oneLine(string(exit.Stderr))
	}
	return ""
}

// oneLine is a tool's output on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// inNamespaces runs each node as a process in its namespace of net, by ip
// netns exec, which becomes the node (it execs it): the kernel enforces the
// caps, so the node is told none, and it listens on its namespace's
// address, which the seeder's invite then carries.
type inNamespaces struct {
	processes
	net *tcNetwork
}

func (l inNamespaces) start(ctx context.Context, node int, o nodeOptions) (func(), func(), error) {
	return l.startCommand(ctx, node, untold(node, o), l.net.ip, "netns", "exec", l.net.plan.nodeNS(node), l.exe)
}

// untold is o for node in its namespace: no caps, and its namespace's
// address to listen on.
func untold(node int, o nodeOptions) nodeOptions {
	o.up, o.down = 0, 0
	o.listen = listenAddr(node)
	return o
}
