package nfqdelay

import (
	"fmt"
	"time"
)

// Config is a releaser's: which queue, how long to hold each packet.
type Config struct {
	// Queue is the NFQUEUE number the iptables rule sends packets to.
	Queue uint16
	// Hold is how long each packet is held.
	Hold time.Duration
	// Window is how much longer a packet may wait, to leave in one
	// verdict with those that arrived just after it (see NewLine); 0 is
	// DefaultWindow(Hold).
	Window time.Duration
	// MaxLen is the most packets the kernel queues; 0 is DefaultMaxLen.
	// Beyond it the kernel drops what arrives (Stats.Dropped).
	MaxLen uint32
	// Ready, if set, is called once the queue is bound: from then on
	// every packet the rule sends is held.
	Ready func()
}

func (c Config) withDefaults() (Config, error) {
	if c.Hold <= 0 {
		return c, fmt.Errorf("nfqdelay: hold %v is not positive", c.Hold)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow(c.Hold)
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultMaxLen
	}
	return c, nil
}

// Stats are what a releaser did, and what the kernel counted for its
// queue.
type Stats struct {
	Packets  uint64 `json:"packets"`  // held, then released
	Verdicts uint64 `json:"verdicts"` // batch verdicts that released them
	MaxHeld  int    `json:"max_held"` // the most held at once
	// MaxLate is how much later than its hold plus window the latest
	// release came, the releaser's timer being late, in seconds.
	MaxLate float64 `json:"max_late_seconds"`
	// Dropped are the packets that found the kernel's queue full;
	// Undelivered those the kernel could not hand to the releaser, its
	// socket full. Both are lost, as on a congested link.
	Dropped     uint64 `json:"dropped"`
	Undelivered uint64 `json:"undelivered"`
}

// Add adds o's counts to s, and keeps the larger of each maximum.
func (s *Stats) Add(o Stats) {
	s.Packets += o.Packets
	s.Verdicts += o.Verdicts
	s.MaxHeld = max(s.MaxHeld, o.MaxHeld)
	s.MaxLate = max(s.MaxLate, o.MaxLate)
	s.Dropped += o.Dropped
	s.Undelivered += o.Undelivered
}
