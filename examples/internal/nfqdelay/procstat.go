package nfqdelay

import (
	"bytes"
	"fmt"
	"strconv"
)

// procQueues is where the kernel lists a network namespace's bound queues,
// as seen from a process in it.
const procQueues = "/proc/net/netfilter/nfnetlink_queue"

// queueStats are a queue's counters as the kernel lists them.
type queueStats struct {
	Dropped     uint64 // queue_dropped: packets that found the queue full
	UserDropped uint64 // queue_user_dropped: packets the kernel could not hand to the releaser (its socket full)
	Sequence    uint64 // id_sequence: the last packet ID given
}

// parseQueueStats reads the line of queue from the kernel's list of
// queues, procQueues: per line the queue number, the bound socket's port
// ID, the packets held, copy mode, copy range, queue_dropped,
// queue_user_dropped, id_sequence and 1 (net/netfilter/nfnetlink_queue.c,
// seq_show). ok is false if queue is not listed.
func parseQueueStats(b []byte, queue uint16) (s queueStats, ok bool, err error) {
	for rest := b; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(string(f[0]), 10, 16)
		if err != nil {
			return queueStats{}, false, fmt.Errorf("%s: queue number %q: %v", procQueues, f[0], err)
		}
		if n != uint64(queue) {
			continue
		}
		if len(f) < 8 {
			return queueStats{}, false, fmt.Errorf("%s: queue %d has %d fields, want at least 8", procQueues, queue, len(f))
		}
		var v [3]uint64
		for k, i := range []int{5, 6, 7} {
			if v[k], err = strconv.ParseUint(string(f[i]), 10, 32); err != nil {
				return queueStats{}, false, fmt.Errorf("%s: queue %d field %d: %v", procQueues, queue, i+1, err)
			}
		}
		return queueStats{Dropped: v[0], UserDropped: v[1], Sequence: v[2]}, true, nil
	}
	return queueStats{}, false, nil
}
