package p2pshare

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/classview"
)

// statusProtocol carries a member's status reports to the bootstrap: one
// long-lived stream, a length-prefixed classview.Report about once a second
// (and at once when a share completes or stops). The bootstrap serves it to
// members only.
const statusProtocol protocol.ID = "/p2pshare/status/1.0.0"

// statusTimeout bounds opening the status stream and writing one report.
const statusTimeout = 5 * time.Second

// reportLoop is a member's reporter: it owns the stream to the bootstrap.
func (c *classStatus) reportLoop() {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	var st network.Stream
	defer func() {
		if st != nil {
			_ = st.Close()
		}
	}()
	sent := false          // the last report named a share
	var retry time.Time    // no new stream before then
	backoff := reportEvery // doubles while the bootstrap is away
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		r := c.ownReport()
		if len(r.Shares) == 0 && !sent {
			continue
		}
		b, err := r.Encode()
		if err != nil {
			c.s.log.Warn("encoding the status report", "err", err)
			continue
		}
		if st == nil {
			if time.Now().Before(retry) {
				continue
			}
			if st = c.openStatus(); st == nil {
				// The bootstrap is away: try again later, less often.
				retry, backoff = time.Now().Add(backoff), min(2*backoff, 30*time.Second)
				continue
			}
			backoff = reportEvery
		}
		_ = st.SetWriteDeadline(time.Now().Add(statusTimeout))
		if err := writeReportFrame(st, b); err != nil {
			c.s.log.Debug("sending the status report", "err", err)
			_ = st.Reset()
			st = nil
			continue
		}
		sent = len(r.Shares) > 0
	}
}

// openStatus opens the status stream to whichever of the node's bootstrap
// contacts serves it: the network's bootstrap node.
func (c *classStatus) openStatus() network.Stream {
	for _, ai := range c.s.bootPeers {
		if ai.ID == c.s.h.ID() {
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, statusTimeout)
		st, err := c.s.h.NewStream(ctx, ai.ID, statusProtocol)
		cancel()
		if err == nil {
			return st
		}
		c.s.log.Debug("opening the status stream", "peer", ai.ID, "err", err)
	}
	return nil
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
