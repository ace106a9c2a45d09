package discovery

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestFirstRefreshWaitsWhileBusy: a node that is fetching when its refresh
// delay ends does no self lookup or refresh until it is done fetching;
// then it does. A node busy past MaxBusyWait refreshes anyway.
func TestFirstRefreshWaitsWhileBusy(t *testing.T) {
	var busy atomic.Bool
	var asked atomic.Int32
	busy.Store(true)
	nodes := startNodes(t, 3, Options{RefreshDelay: time.Millisecond, Busy: func() bool {
		asked.Add(1)
		return busy.Load()
	}})
	// Node 0, the bootstrap, joins no one and never refreshes. The others
	// ask once their delay ends, then once a second: by the time they
	// have been asked six times, each has been busy past its delay at
	// least twice, and none may have refreshed.
	nodes = nodes[1:]
	waitFor(t, "the nodes to ask whether they are busy", 20*time.Second, func() bool { return asked.Load() >= 6 })
	for i, d := range nodes {
		if n := d.Refreshes(); n != 0 {
			t.Fatalf("node %d refreshed %d times while fetching", i, n)
		}
	}
	busy.Store(false)
	for _, d := range nodes {
		waitFor(t, "a refresh once the fetch is done", 20*time.Second, func() bool { return d.Refreshes() > 0 })
	}

	// Busy for good: the refresh comes after MaxBusyWait.
	always := func() bool { return true }
	late := startNodes(t, 2, Options{RefreshDelay: time.Millisecond, Busy: always, MaxBusyWait: 1500 * time.Millisecond})
	waitFor(t, "a refresh after MaxBusyWait though still busy", 20*time.Second, func() bool { return late[1].Refreshes() > 0 })
}
