package replication

import (
	"sync"
	"time"
)

// Stats is a snapshot of one node's replication counters.
type Stats struct {
	KeysHeld    int    // records held at the end of the last round
	Rounds      uint64 // republish rounds completed
	Republishes uint64 // successful re-stores to a peer that lacked a key
	HandOffs    uint64 // successful sends to a newcomer, or to the k closest before a drop
	Drops       uint64 // keys deleted because this node was no longer responsible
	Expired     uint64 // keys deleted because their envelope expired
	Failures    uint64 // failed lookups, fetches or stores
	Lookups     uint64
	// LastLookup and the totals describe the lookups of republish rounds.
	LastLookup    LookupStats
	LookupRounds  uint64 // sum of LookupStats.Rounds
	LookupTime    time.Duration
	MaxLookupTime time.Duration
}

// Add sums x into s, as for the replicators of several namespaces or
// nodes: counters and totals add, KeysHeld adds, Rounds and the maxima take
// the larger, LastLookup the latest non-empty.
func (s *Stats) Add(x Stats) {
	s.KeysHeld += x.KeysHeld
	s.Rounds = max(s.Rounds, x.Rounds)
	s.Republishes += x.Republishes
	s.HandOffs += x.HandOffs
	s.Drops += x.Drops
	s.Expired += x.Expired
	s.Failures += x.Failures
	s.Lookups += x.Lookups
	s.LookupRounds += x.LookupRounds
	s.LookupTime += x.LookupTime
	s.MaxLookupTime = max(s.MaxLookupTime, x.MaxLookupTime)
	if x.LastLookup.Duration > 0 {
		s.LastLookup = x.LastLookup
	}
}

// counters guards a Stats for the goroutines of one Replicator.
type counters struct {
	mu sync.Mutex
	s  Stats
}

func (c *counters) update(f func(*Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *counters) lookup(ls LookupStats) {
	c.update(func(s *Stats) {
		s.Lookups++
		s.LastLookup = ls
		s.LookupRounds += uint64(ls.Rounds)
		s.LookupTime += ls.Duration
		s.MaxLookupTime = max(s.MaxLookupTime, ls.Duration)
	})
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}
