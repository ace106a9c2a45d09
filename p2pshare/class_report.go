package p2pshare

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/classview"
)

// statusProtocol carries a member's status reports to the bootstrap and
// the coordinators (class_targets.go): one long-lived stream to each, a
// length-prefixed classview.Report about once a second (and at once when a
// share completes or stops). They serve it to members only.
const statusProtocol protocol.ID = "/p2pshare/status/1.0.0"

// statusTimeout bounds opening the status stream and writing one report.
const statusTimeout = 5 * time.Second

// reportLoop is the reporter: it owns a stream to each of the node's
// report targets (reportTargets), and sends every one the same report.
// A target that cannot be reached is tried again later, less often; one
// that is being dialled holds back no other.
func (c *classStatus) reportLoop() {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	links := map[peer.ID]*reportLink{}
	opened := make(chan openedStatus)
	defer func() {
		for p, l := range links {
			if l.st != nil {
				_ = l.st.Close()
			}
			c.s.h.ConnManager().Unprotect(p, coordinatorTag)
		}
	}()
	sent := false // the last report named a share
	var learned []peer.ID
	var nextAsk time.Time // when to ask for the coordinators again
	asking := false
	heard := make(chan learnedCoordinators)
	for {
		select {
		case <-c.ctx.Done():
			return
		case h := <-heard:
			asking = false
			if h.ok {
				learned, nextAsk = h.ids, h.at.Add(coordinatorsEvery)
			} else {
				nextAsk = h.at.Add(reportEvery)
			}
			continue
		case o := <-opened:
			if l := links[o.p]; l != nil {
				l.opening, l.st = false, o.st
				if o.st == nil {
					l.retry, l.backoff = o.at.Add(l.backoff), min(2*l.backoff, 30*time.Second)
				} else {
					l.backoff = reportEvery
				}
			} else if o.st != nil {
				_ = o.st.Close() // no target any more
			}
			continue
		case <-t.C:
		case <-c.kick:
		}
		now := time.Now()
		targets := reportTargets(c.s.h.ID(), c.s.bootPeers, learned)
		if c.s.net.group != nil {
			// A coordinator's own log names the others.
			learned, _ = c.learnCoordinators(nil)
			targets = reportTargets(c.s.h.ID(), c.s.bootPeers, learned)
		} else if !asking && !now.Before(nextAsk) {
			asking = true
			go func() {
				ids, ok := c.learnCoordinators(targets)
				select {
				case heard <- learnedCoordinators{ids: ids, ok: ok, at: time.Now()}:
				case <-c.ctx.Done():
				}
			}()
		}
		c.keepLinks(links, targets)
		r := c.ownReport(now)
		if len(r.Shares) == 0 && !sent {
			continue
		}
		b, err := r.Encode()
		if err != nil {
			c.s.log.Warn("encoding the status report", "err", err)
			continue
		}
		for _, p := range targets {
			l := links[p]
			if l.st == nil {
				if !l.opening && !now.Before(l.retry) && c.mayServeStatus(p) {
					l.opening = true
					go c.openStatus(p, opened)
				}
				continue
			}
			_ = l.st.SetWriteDeadline(time.Now().Add(statusTimeout))
			if err := writeReportFrame(l.st, b); err != nil {
				c.s.log.Debug("sending the status report", "peer", p, "err", err)
				_ = l.st.Reset()
				l.st = nil
			}
		}
		sent = len(r.Shares) > 0
	}
}

// reportLink is the reporter's stream to one target.
type reportLink struct {
	st      network.Stream // nil until opened, and after it failed
	opening bool
	retry   time.Time     // no new stream before then
	backoff time.Duration // doubles while the target is away
}

// mayServeStatus is false for a peer that said which protocols it serves
// (identify) and named not statusProtocol: a member that a -bootstrap
// names, not a bootstrap nor a coordinator.
func (c *classStatus) mayServeStatus(p peer.ID) bool {
	ps, err := c.s.h.Peerstore().GetProtocols(p)
	return err != nil || len(ps) == 0 || slices.Contains(ps, statusProtocol)
}

// learnedCoordinators is the outcome of asking for the coordinators.
type learnedCoordinators struct {
	ids []peer.ID
	ok  bool
	at  time.Time
}

// openedStatus is the outcome of opening a status stream to p: st, or nil.
type openedStatus struct {
	p  peer.ID
	st network.Stream
	at time.Time
}

// keepLinks makes links hold a link to each of targets, and none to a peer
// that is no target any more. A learned coordinator's connection is kept,
// as the bootstrap contacts' are.
func (c *classStatus) keepLinks(links map[peer.ID]*reportLink, targets []peer.ID) {
	for p, l := range links {
		if !slices.Contains(targets, p) {
			if l.st != nil {
				_ = l.st.Close()
			}
			c.s.h.ConnManager().Unprotect(p, coordinatorTag)
			delete(links, p)
		}
	}
	for _, p := range targets {
		if links[p] == nil {
			links[p] = &reportLink{backoff: reportEvery}
			c.s.h.ConnManager().Protect(p, coordinatorTag)
		}
	}
}

// openStatus opens the status stream to p and hands it, or its failure,
// to the reporter.
func (c *classStatus) openStatus(p peer.ID, out chan<- openedStatus) {
	ctx, cancel := context.WithTimeout(c.ctx, statusTimeout)
	st, err := c.s.h.NewStream(ctx, p, statusProtocol)
	cancel()
	if err != nil {
		c.s.log.Debug("opening the status stream", "peer", p, "err", err)
		st = nil
	}
	select {
	case out <- openedStatus{p: p, st: st, at: time.Now()}:
	case <-c.ctx.Done():
		if st != nil {
			_ = st.Close()
		}
	}
}

// writeReportFrame writes one report: its length as a uvarint, then it.
func writeReportFrame(w io.Writer, b []byte) error {
	_, err := w.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...))
	return err
}

// readReportFrame reads one report frame, refusing a length past
// classview.MaxReportSize before it allocates.
func readReportFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > classview.MaxReportSize {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", classview.ErrMessageTooLarge, n, classview.MaxReportSize)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// memberName is the name on p's certificate.
func (s *Swarm) memberName(p peer.ID) string {
	if mc, ok := s.net.m.Member(p); ok {
		return mc.Name
	}
	return p.String()
}
