package p2pshare

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestBootstrapListsMembers: the bootstrap stores the directory entry of
// each member it meets, once per certificate, so that students joining
// together need not each connect to much of the class to store their own;
// another member then finds the newcomer by name.
func TestBootstrapListsMembers(t *testing.T) {
	boot := testNode(t, nil, nil)
	alice := testNode(t, boot, func(c *Config) { c.Name = "alice" })
	bob := testNode(t, boot, func(c *Config) { c.Name = "bob" })

	// Both are listed once each, however often they meet the bootstrap.
	waitUntil(t, 30*time.Second, "the bootstrap lists alice and bob", func() bool {
		return listedByBootstrap(t, boot) == 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, _, err := bob.resolveMember(ctx, "alice")
	if err != nil {
		t.Fatalf("bob looks alice up: %v", err)
	}
	if p != alice.h.ID() {
		t.Fatalf("the directory names %s for alice, want %s", p, alice.h.ID())
	}
	if n := listedByBootstrap(t, boot); n != 2 {
		t.Fatalf("the bootstrap listed %v entries, want 2", n)
	}
	if alice.dir != nil || bob.dir != nil {
		t.Fatal("a member keeps a directory of its own")
	}
}

// listedByBootstrap reads p2pshare_directory_listed_total from n's metrics.
func listedByBootstrap(t *testing.T, n *Swarm) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(n.Metrics()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "p2pshare_directory_listed_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no p2pshare_directory_listed_total among the bootstrap's metrics")
	return 0
}
