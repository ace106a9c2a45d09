package nfqdelay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// readBuffer is the releaser's socket buffer: the queued packets' messages
// wait there while it does not run, and a full buffer loses packets.
const readBuffer = 8 << 20

// idleWait bounds each wait for a packet, so that a releaser holding
// nothing still sees its context end.
const idleWait = 50 * time.Millisecond

// Run binds cfg.Queue in this process's network namespace and holds every
// packet queued there for cfg.Hold, until ctx ends; then it releases what
// it holds and unbinds the queue. It fails if the queue is bound already
// or the socket fails.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	line, err := NewLine(cfg.Hold, cfg.Window)
	if err != nil {
		return Stats{}, err
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("nfqdelay: opening a netfilter socket: %w", err)
	}
	defer conn.Close()
	raiseReadBuffer(conn)
	// A full socket is counted by the kernel (Stats.Undelivered); the
	// reads carry on.
	if err := conn.SetOption(netlink.NoENOBUFS, true); err != nil {
		return Stats{}, fmt.Errorf("nfqdelay: %w", err)
	}
	msg, err := configMessage(cfg.Queue, cfg.MaxLen)
	if err != nil {
		return Stats{}, err
	}
	if _, err := conn.Execute(msg); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return Stats{}, fmt.Errorf("nfqdelay: queue %d of this network namespace is bound to another program already", cfg.Queue)
		}
		return Stats{}, fmt.Errorf("nfqdelay: binding queue %d: %w", cfg.Queue, err)
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	r := &releaser{cfg: cfg, line: line, conn: conn}
	return r.loop(ctx)
}

// releaser is Run's state, owned by its loop.
type releaser struct {
	cfg   Config
	line  *Line
	conn  *netlink.Conn
	stats Stats
}

// loop reads packets and releases them, on one goroutine: each read waits
// until the next release is due at the latest (a read deadline), so a
// packet's arrival and a release each cost one wake, and no goroutine
// hands anything to another.
func (r *releaser) loop(ctx context.Context) (Stats, error) {
	for ctx.Err() == nil {
		now := time.Now()
		if upTo, n, late := r.line.Release(now); n > 0 {
			if err := r.release(upTo); err != nil {
				return r.stats, err
			}
			r.stats.MaxLate = max(r.stats.MaxLate, (late - r.cfg.Window).Seconds())
		}
		deadline := now.Add(idleWait)
		if wake, ok := r.line.Wake(); ok && wake.Before(deadline) {
			deadline = wake
		}
		if err := r.conn.SetReadDeadline(deadline); err != nil {
			return r.stats, fmt.Errorf("nfqdelay: %w", err)
		}
		msgs, err := r.conn.Receive()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, unix.ENOENT):
			// A verdict for packets the kernel no longer holds: it flushes
			// a queue's packets when their device goes down.
			continue
		case err != nil:
			return r.stats, fmt.Errorf("nfqdelay: reading queue %d: %w", r.cfg.Queue, err)
		}
		now = time.Now()
		for _, m := range msgs {
			id, err := decodePacket(m, r.cfg.Queue)
			if err != nil {
				return r.stats, err
			}
			r.line.Arrive(id, now)
			r.stats.Packets++
		}
		r.stats.MaxHeld = max(r.stats.MaxHeld, r.line.Len())
	}
	return r.stats, r.finish()
}

// release accepts every packet up to id.
func (r *releaser) release(id uint32) error {
	msg, err := verdictMessage(r.cfg.Queue, id)
	if err == nil {
		_, err = r.conn.Send(msg)
	}
	if err != nil {
		return fmt.Errorf("nfqdelay: releasing the packets up to %d: %w", id, err)
	}
	r.stats.Verdicts++
	return nil
}

// finish reads the kernel's counts for the queue, then releases what is
// held: at the end of a run nothing waits for it, and a packet let go is
// kinder than one the unbinding drops.
func (r *releaser) finish() error {
	var errs []error
	if b, err := os.ReadFile(procQueues); err != nil {
		errs = append(errs, fmt.Errorf("nfqdelay: reading the kernel's counts: %w", err))
	} else if s, ok, err := parseQueueStats(b, r.cfg.Queue); err != nil {
		errs = append(errs, err)
	} else if !ok {
		errs = append(errs, fmt.Errorf("nfqdelay: %s does not list queue %d", procQueues, r.cfg.Queue))
	} else {
		r.stats.Dropped, r.stats.Undelivered = s.Dropped, s.UserDropped
	}
	if id, ok := r.line.Last(); ok {
		errs = append(errs, r.release(id))
	}
	return errors.Join(errs...)
}

// raiseReadBuffer enlarges conn's receive buffer to readBuffer, past the
// system's limit if this process may (CAP_NET_ADMIN), else as far as the
// limit allows.
func raiseReadBuffer(conn *netlink.Conn) {
	forced := false
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuffer) == nil
		})
	}
	if !forced {
		_ = conn.SetReadBuffer(readBuffer)
	}
}
