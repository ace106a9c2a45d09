package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestEveryNodeReachesEveryOther builds the network of a class of 48, more
// than the kernel's neighbour table holds by default when every node
// resolves every other's address itself (about 2,250 entries against 1,024
// for the whole machine), and has each node connect to every other node by
// TCP. Each connect must succeed: in a class whose nodes cannot reach each
// other, some students trade with a handful of peers and finish last.
func TestEveryNodeReachesEveryOther(t *testing.T) {
	needNamespaces(t, "ip", "tc")
	const nodes = 48
	plan, err := newNetPlan(runPrefix(os.Getpid())+"mesh-", 0, make([]int64, nodes-1), make([]int64, nodes-1))
	if err != nil {
		t.Fatal(err)
	}
	n, err := openTCNetwork(context.Background(), plan, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeTestNetwork(t, n)

	addrs := make([]string, nodes)
	for i := range nodes {
		inNetns(t, plan.nodeNS(i), func() error {
			ln, err := net.Listen("tcp", nodeAddr(i).String()+":0")
			if err != nil {
				return err
			}
			addrs[i] = ln.Addr().String()
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			return nil
		})
	}
	// Each node dials from a thread of its own in its namespace, every
	// other node in turn, and stops at its first failure.
	errc := make(chan error, nodes)
	for i := range nodes {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			errc <- dialAll(plan.nodeNS(i), i, addrs)
		}()
	}
	for range nodes {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// dialAll enters ns and connects to every address of addrs but self's.
func dialAll(ns string, self int, addrs []string) error {
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("entering %s: %w", ns, err)
	}
	for j, a := range addrs {
		if j == self {
			continue
		}
		c, err := net.DialTimeout("tcp", a, 10*time.Second)
		if err != nil {
			return fmt.Errorf("node %d could not connect to node %d: %w", self, j, err)
		}
		c.Close()
	}
	return nil
}
