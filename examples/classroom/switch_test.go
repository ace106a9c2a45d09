package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestSwitchFiltersNothing: in the class's network the switch forwards
// frames without passing them through the firewall, and the machine's own
// setting is left as it was.
func TestSwitchFiltersNothing(t *testing.T) {
	needNamespaces(t, "ip", "tc")
	// read may run on inNetns's thread: it reports, it does not stop.
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
		}
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat(bridgeFilters[0]); err != nil {
		t.Skipf("no br_netfilter on this machine, so no bridge filters to turn off: %v", err)
	}
	machine := map[string]string{}
	for _, p := range bridgeFilters {
		machine[p] = read(p)
	}
	plan, err := newNetPlan(runPrefix(os.Getpid())+"sw-", 0, make([]int64, 1), make([]int64, 1))
	if err != nil {
		t.Fatal(err)
	}
	n, err := openTCNetwork(context.Background(), plan, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeTestNetwork(t, n)
	inNetns(t, plan.switchNS(), func() error {
		for _, p := range bridgeFilters {
			if v := read(p); v != "0" {
				t.Errorf("in the switch %s is %s; want 0", p, v)
			}
		}
		return nil
	})
	for _, p := range bridgeFilters {
		if v := read(p); v != machine[p] {
			t.Errorf("the machine's %s is %s; it was %s", p, v, machine[p])
		}
	}
}

// needNamespaces skips a test that builds the class's network where it
// cannot: off Linux, without root, or without one of tools.
func needNamespaces(t *testing.T, tools ...string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("-shaping tc needs Linux's network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("-shaping tc needs root (CAP_NET_ADMIN) to create network namespaces; not root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("this test needs %s: %v", strings.Join(tools, ", "), err)
		}
	}
}
