// Package nfqdelay adds a fixed delay to the packets that enter a network
// namespace, where the kernel has no netem: an iptables rule sends each
// packet to an NFQUEUE, and a releaser, bound to that queue, lets each one
// go on its way a fixed time after it arrived, in order.
//
// The releaser sees no payload (the queue copies metadata only) and lets
// the kernel queue whole segment-offload packets (up to 64 KiB each), so it
// costs a system call or two per packet and one verdict per release
// instant: a batch verdict accepts every packet up to an ID.
//
// Line decides when to release what, free of I/O, with the time passed in;
// Run (Linux only) is the netlink part.
package nfqdelay

import (
	"fmt"
	"time"
)

// Line is the packets held, in the order they arrived, each with the time
// it is due. Its owner adds packets as they arrive and asks, at a time,
// which are due: the answer is the last ID of a run of packets from the
// head, which one batch verdict releases. It is not safe for concurrent
// use.
type Line struct {
	hold, window time.Duration
	q            []held // q[head:] are held, oldest first
	head         int
}

type held struct {
	id  uint32
	due time.Time
}

// NewLine holds every packet for hold. window is how much longer a packet
// may wait so that those that arrived close after it leave in the same
// verdict: each packet leaves between hold and hold+window after it
// arrived (later if its owner wakes late).
func NewLine(hold, window time.Duration) (*Line, error) {
	switch {
	case hold <= 0:
		return nil, fmt.Errorf("nfqdelay: hold %v is not positive", hold)
	case window < 0 || window > hold:
		return nil, fmt.Errorf("nfqdelay: window %v: want 0 to the hold, %v", window, hold)
	}
	return &Line{hold: hold, window: window}, nil
}

// DefaultWindow is the window for a hold: a twentieth of it, so a packet
// leaves at most 5 % late by design.
func DefaultWindow(hold time.Duration) time.Duration { return hold / 20 }

// Arrive holds packet id, which arrived at now. Packets must arrive in
// the order of their IDs, as the kernel queues them, and at times that do
// not go back.
func (l *Line) Arrive(id uint32, now time.Time) {
	l.q = append(l.q, held{id: id, due: now.Add(l.hold)})
}

// Release takes the packets due at now off the line: upTo is the last of
// them, and a verdict that accepts every ID up to upTo releases them all;
// n is how many they are, 0 when none is due; late is how long after its
// due time the first of them leaves.
func (l *Line) Release(now time.Time) (upTo uint32, n int, late time.Duration) {
	if l.head < len(l.q) {
		late = max(0, now.Sub(l.q[l.head].due))
	}
	for l.head < len(l.q) && !l.q[l.head].due.After(now) {
		upTo = l.q[l.head].id
		l.head++
		n++
	}
	switch {
	case l.head == len(l.q):
		l.q, l.head = l.q[:0], 0
	case l.head > len(l.q)/2 && l.head > 64:
		l.q = l.q[:copy(l.q, l.q[l.head:])]
		l.head = 0
	}
	if n == 0 {
		late = 0
	}
	return upTo, n, late
}

// Wake is when the owner should next call Release: the oldest packet's due
// time plus the window, so that those due within the window after it
// leave with it. ok is false when the line is empty.
func (l *Line) Wake() (at time.Time, ok bool) {
	if l.head == len(l.q) {
		return time.Time{}, false
	}
	return l.q[l.head].due.Add(l.window), true
}

// Len is how many packets are held.
func (l *Line) Len() int { return len(l.q) - l.head }

// Last is the ID of the newest packet held; ok is false when the line is
// empty. A verdict up to it releases every packet held.
func (l *Line) Last() (id uint32, ok bool) {
	if l.Len() == 0 {
		return 0, false
	}
	return l.q[len(l.q)-1].id, true
}

// Minimum and maximum sizes of the kernel's queue, in packets.
const (
	// DefaultMaxLen is the kernel's own default (NFQNL_QMAX_DEFAULT in
	// net/netfilter/nfnetlink_queue.c).
	DefaultMaxLen = 1024
	// UncappedMaxLen is for a link with no cap: a veth moves gigabytes a
	// second, 10 ms of which are about 7,000 full frames.
	UncappedMaxLen = 1 << 16
	// frameBytes is the smallest data packet counted for a capped link, a
	// full Ethernet frame; segment offload makes many packets larger.
	frameBytes = 1500
	// starved is how long a releaser may not run, on a busy machine,
	// before its queue overflows: the kernel keeps queueing meanwhile.
	starved = 250 * time.Millisecond
)

// MaxLen is how many packets the kernel should queue for a node whose
// incoming traffic is capped at rate bytes/s (0: none), each held for
// hold: twice the full frames the rate brings in the hold and in starved
// more (the data, and as many acknowledgements of what the node sends),
// at least DefaultMaxLen; UncappedMaxLen for no cap. When the queue is
// full the kernel drops the next packet, as a full router queue does, and
// TCP backs off.
func MaxLen(rate int64, hold time.Duration) uint32 {
	if rate <= 0 {
		return UncappedMaxLen
	}
	frames := float64(rate) * (hold + starved).Seconds() / frameBytes
	return uint32(min(max(2*frames+1, DefaultMaxLen), UncappedMaxLen))
}
