package p2pshare

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/p2pshare/p2pshare/internal/wire"
)

// errRefused is what openPieces returns when the victim answers the Hello
// with a refusal.
var errRefused = errors.New("refused")

// attackLimits are the limits the attacker reads the victim's messages
// with: anything an honest victim sends fits.
var attackLimits = wire.Limits{MaxPiece: 16 << 20, MaxBitfield: 1 << 20}

// pieceStream is a piece-exchange stream that a member opened by hand to
// break the protocol with. A goroutine reads whatever the victim sends,
// keeps the first pieces in pieces and discards the rest; cut is closed
// when the victim ends the stream.
type pieceStream struct {
	st  network.Stream
	w   *wire.Writer
	cut chan struct{}
	// pace, if set, paces the attack: a token per message, and per 16 KiB
	// of piece data.
	pace *rate.Limiter
	// pieces has the first pieces the victim sent; the rest are dropped.
	pieces chan wire.Msg
}

// paceN waits for n of the attack's tokens, if it is paced.
func (ps *pieceStream) paceN(n int) {
	if ps.pace != nil {
		_ = ps.pace.WaitN(context.Background(), n)
	}
}

// send writes msgs and flushes them, failing the test on an error.
func (ps *pieceStream) send(t testing.TB, msgs ...wire.Msg) {
	t.Helper()
	for _, m := range msgs {
		if err := ps.w.Write(m, attackLimits); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// openPieces opens a piece stream from h to victim for ih and does the
// handshake: Hello both ways, then an empty bitfield of a share of pieces
// pieces. A refusal comes back as errRefused.
func openPieces(ctx context.Context, h host.Host, victim peer.ID, ih Infohash, pieces int) (*pieceStream, error) {
	st, err := h.NewStream(ctx, victim, wire.Protocol)
	if err != nil {
		return nil, err
	}
	_ = st.SetDeadline(time.Now().Add(20 * time.Second))
	w := wire.NewWriter(st)
	if err := w.Write(wire.Msg{Type: wire.Hello, Data: ih.Bytes()}, attackLimits); err != nil || w.Flush() != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("hello: %v", err)
	}
	r := wire.NewReader(st, attackLimits)
	m, err := r.Read()
	if err != nil {
		_ = st.Reset()
		return nil, err
	}
	if m.Type == wire.Refuse {
		_ = st.Reset()
		return nil, fmt.Errorf("%w: %q", errRefused, m.Data)
	}
	_ = st.SetDeadline(time.Time{})
	if err := w.Write(wire.Msg{Type: wire.Bitfield, Data: make([]byte, (pieces+7)/8)}, attackLimits); err != nil || w.Flush() != nil {
		_ = st.Reset()
		return nil, fmt.Errorf("bitfield: %v", err)
	}
	ps := &pieceStream{st: st, w: w, cut: make(chan struct{}), pieces: make(chan wire.Msg, 16)}
	go func() {
		defer close(ps.cut)
		for {
			m, err := r.Read()
			if err != nil {
				return
			}
			if m.Type == wire.Piece {
				m.Data = append([]byte(nil), m.Data...)
				select {
				case ps.pieces <- m:
				default:
				}
			}
		}
	}()
	return ps, nil
}

// flood is one way of breaking the protocol on an open piece stream: it
// writes until the victim cuts the stream (an error) or it gives up.
type flood func(ps *pieceStream, pieces int, pieceSize int64) error

// floods are the attacks a member may make on a piece stream, each far
// beyond what an honest peer sends.
var floods = map[string]flood{
	"requests": func(ps *pieceStream, pieces int, _ int64) error {
		return writeMany(ps, 1_000_000, func(i int) wire.Msg {
			return wire.Msg{Type: wire.Request, Index: uint32(i % pieces)}
		})
	},
	"request and cancel": func(ps *pieceStream, pieces int, _ int64) error {
		return writeMany(ps, 1_000_000, func(i int) wire.Msg {
			if i%2 == 0 {
				return wire.Msg{Type: wire.Request, Index: uint32(i / 2 % pieces)}
			}
			return wire.Msg{Type: wire.Cancel, Index: uint32(i / 2 % pieces)}
		})
	},
	"haves": func(ps *pieceStream, pieces int, _ int64) error {
		return writeMany(ps, 1_000_000, func(i int) wire.Msg {
			return wire.Msg{Type: wire.Have, Index: uint32(i % pieces)}
		})
	},
	"unrequested pieces": func(ps *pieceStream, pieces int, pieceSize int64) error {
		junk := make([]byte, pieceSize)
		return writeMany(ps, 100_000, func(i int) wire.Msg {
			return wire.Msg{Type: wire.Piece, Index: uint32(i % pieces), Data: junk}
		})
	},
	"oversized frame": func(ps *pieceStream, _ int, _ int64) error {
		// A piece frame claiming 2 GiB, then bytes until the victim cuts.
		var hdr [9]byte
		binary.BigEndian.PutUint32(hdr[:4], 1<<31)
		hdr[4] = byte(wire.Piece)
		if _, err := ps.st.Write(hdr[:]); err != nil {
			return err
		}
		junk := make([]byte, 64<<10)
		for range 32 << 10 {
			if _, err := ps.st.Write(junk); err != nil {
				return err
			}
		}
		return nil
	},
	"out of range": func(ps *pieceStream, pieces int, _ int64) error {
		return writeMany(ps, 1_000, func(i int) wire.Msg {
			return wire.Msg{Type: wire.Request, Index: uint32(pieces + i)}
		})
	},
}

// writeMany writes n messages made by msg, flushing every 256, and stops
// at the first error: the victim cut the stream.
func writeMany(ps *pieceStream, n int, msg func(int) wire.Msg) error {
	for i := range n {
		m := msg(i)
		ps.paceN(1 + len(m.Data)/(16<<10))
		if err := ps.w.Write(m, attackLimits); err != nil {
			return err
		}
		if i%256 == 255 {
			if err := ps.w.Flush(); err != nil {
				return err
			}
		}
	}
	return ps.w.Flush()
}

// waitUntil polls cond every 20 ms until it holds, failing the test at the
// deadline.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		<-tick.C
	}
}
