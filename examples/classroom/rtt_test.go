package main

import (
	"context"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be a packet releaser, as the classroom
// binary is, so that the tests can start real ones.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == delayCommand {
		os.Exit(delayMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestAddedRTT builds the classroom's network for a seeder and one
// leecher, once as is and once with -rtt 20ms, and measures the round trip
// between the two nodes with TCP: a connect (SYN, then SYN-ACK) and a
// one-byte echo. With the releasers each must take at least 20 ms, since
// each packet into a node is held 10 ms; without, far less. Then a
// releaser that dies must end the run, naming its node; and when the
// network closes no releaser and no namespace may be left.
func TestAddedRTT(t *testing.T) {
	needNamespaces(t, "ip", "tc", "iptables")
	const rtt = 20 * time.Millisecond
	const samples = 8

	// Without: the same network, no rule, no releaser.
	plain := openTestNetwork(t, "plain-", false)
	without := roundTrips(t, plain.plan, samples)
	closeTestNetwork(t, plain)

	delayed := openTestNetwork(t, "rtt-", true)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := startReleasers(context.Background(), delayed, exe, params{RTT: rtt.Seconds()})
	if err != nil {
		closeTestNetwork(t, delayed)
		t.Fatal(err)
	}
	with := roundTrips(t, delayed.plan, samples)

	t.Logf("round trips without -rtt: %v", without)
	t.Logf("round trips with -rtt %v: %v", rtt, with)
	for i, d := range with {
		if d < rtt {
			t.Errorf("with -rtt %v, round trip %d took %v", rtt, i, d)
		}
	}
	if fastest := slices.Min(without); fastest >= rtt/2 {
		t.Errorf("without -rtt the fastest round trip took %v, not far below %v: the test cannot tell the delay from the machine's", fastest, rtt)
	}

	// A releaser that dies takes its node's network with it: the run
	// must hear of it.
	if err := rel.procs[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rel.failed:
		if !strings.Contains(err.Error(), "the packet releaser of node 1 (in "+delayed.plan.nodeNS(1)+") stopped") {
			t.Errorf("a killed releaser: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("a killed releaser went unreported")
	}
	stats, err := rel.stop()
	if err == nil || !strings.Contains(err.Error(), "the packet releaser of node 1: signal: killed") {
		t.Errorf("stop after a releaser was killed: %v", err)
	}
	// Node 0's releaser held at least the SYNs and the echoed bytes.
	if stats.Releasers != 2 || stats.Packets < 2*samples || stats.Hold != rtt.Seconds()/2 || stats.Verdicts == 0 || stats.CPUSeconds <= 0 {
		t.Errorf("releasers' stats %+v: want 2 releasers, a hold of %v, at least %d packets, a verdict and some CPU", stats, rtt/2, 2*samples)
	}
	if left := releaserProcesses(t, exe); len(left) > 0 {
		t.Errorf("releasers still running after stop: %v", left)
	}
	closeTestNetwork(t, delayed)
}

// openTestNetwork makes the network of a seeder and one leecher, uncapped,
// its namespaces named for this process and name.
func openTestNetwork(t *testing.T, name string, delay bool) *tcNetwork {
	t.Helper()
	plan, err := newNetPlan(runPrefix(os.Getpid())+name, 0, []int64{0}, []int64{0})
	if err != nil {
		t.Fatal(err)
	}
	plan.delay = delay
	n, err := openTCNetwork(context.Background(), plan, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func closeTestNetwork(t *testing.T, n *tcNetwork) {
	t.Helper()
	if err := n.close(); err != nil {
		t.Error(err)
	}
	names, err := n.list()
	if err != nil {
		t.Fatal(err)
	}
	if left := ownNamespaces(names, n.plan.prefix); len(left) > 0 {
		t.Errorf("namespaces left: %q", left)
	}
}

// roundTrips measures, samples times, a TCP connect from node 1 to node 0
// and a one-byte echo over it, and returns the shorter of each pair.
func roundTrips(t *testing.T, plan netPlan, samples int) []time.Duration {
	t.Helper()
	var ln net.Listener
	inNetns(t, plan.nodeNS(0), func() (err error) {
		ln, err = net.Listen("tcp", nodeAddr(0).String()+":0")
		return err
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	var out []time.Duration
	for range samples {
		var connect, echo time.Duration
		inNetns(t, plan.nodeNS(1), func() error {
			start := time.Now()
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			connect = time.Since(start)
			b := []byte{42}
			start = time.Now()
			if _, err := c.Write(b); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, b); err != nil {
				return err
			}
			echo = time.Since(start)
			return nil
		})
		out = append(out, min(connect, echo))
	}
	return out
}

// inNetns runs fn on a thread in the network namespace ns: the sockets it
// opens live there, whichever thread uses them afterwards. The thread is
// never unlocked, so it ends with its goroutine, namespace and all.
func inNetns(t *testing.T, ns string, fn func() error) {
	t.Helper()
	if err := inNamespace(ns, fn); err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
}

// releaserProcesses are the running processes of exe as a releaser.
func releaserProcesses(t *testing.T, exe string) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && args[0] == exe && args[1] == delayCommand {
			out = append(out, d.Name())
		}
	}
	return out
}

// TestPrintDelay: the summary says what round trip was added, how, and
// what the releasers did and cost.
func TestPrintDelay(t *testing.T) {
	r := &result{params: params{Shaping: shapingTC, RTT: 0.02}, CPUSeconds: 9}
	r.Delay = &delayStats{Hold: 0.01, Releasers: 31, CPUSeconds: 1, SysSeconds: 0.6}
	r.Delay.Packets, r.Delay.Verdicts, r.Delay.MaxHeld, r.Delay.MaxLate, r.Delay.Dropped = 5000, 3000, 40, 0.0021, 2
	var b strings.Builder
	r.printDelay(&b)
	want := "added RTT:      20ms between any two nodes: each packet into a node held 10ms (NFQUEUE, 31 releasers)\n" +
		"releasers:      1.0s CPU, 0.6s of it in the kernel (10% of theirs and the nodes'), 5000 packets in 3000 verdicts, at most 40 held; 2 dropped (queue full), 0 undelivered (socket full); released at most 2.1ms late\n"
	if b.String() != want {
		t.Errorf("printDelay:\n%s\nwant:\n%s", b.String(), want)
	}
	if !strings.HasSuffix(r.caps(), "; +20ms round trip (NFQUEUE)") {
		t.Errorf("caps: %s", r.caps())
	}
	b.Reset()
	(&result{}).printDelay(&b)
	if b.Len() != 0 {
		t.Errorf("without -rtt printDelay says %q", b.String())
	}
}
