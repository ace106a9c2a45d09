package p2pshare

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// floodSize and floodPiece shape the share of the flood tests.
const (
	floodSize  = 8 << 20
	floodPiece = 64 << 10
)

// TestFloodsAreCutOff: while an honest member fetches from a seeder, other
// members attack the seeder on the piece protocol, each in one way: far
// more requests, cancels or haves than an honest peer sends, unrequested
// pieces, a frame far over the limit, pieces out of range, link after link,
// and a pile of streams. The seeder cuts each attacker off and refuses its
// next stream; the pile of streams is capped by the resource manager. A
// member that keeps coming back while banned, or opens streams for nothing,
// is blocked at the connection level. The honest fetch completes with the
// right bytes.
func TestFloodsAreCutOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	// The cap keeps the honest fetch going while the attacks run.
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	src, want := randomFile(t, dir, floodSize)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: floodPiece})
	if err != nil {
		t.Fatal(err)
	}
	const pieces = floodSize / floodPiece
	se := seed.session(ih)

	honest := testNode(t, seed, nil)
	d, err := honest.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "honest.bin")})
	if err != nil {
		t.Fatal(err)
	}

	for name, f := range floods {
		t.Run(name, func(t *testing.T) {
			att := testNode(t, seed, nil)
			ps, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces)
			if err != nil {
				t.Fatalf("opening a piece stream: %v", err)
			}
			ferr := f(ps, pieces, floodPiece)
			select {
			case <-ps.cut:
			case <-ctx.Done():
				t.Fatalf("the seeder never cut the stream (flood ended with %v)", ferr)
			}
			waitUntil(t, 10*time.Second, "the seeder does not refuse the attacker", func() bool { return se.Banned(att.h.ID()) })
			if _, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces); !errors.Is(err, errRefused) {
				t.Fatalf("the attacker's next stream: %v, want refused", err)
			}
		})
	}

	t.Run("link after link", func(t *testing.T) {
		att := testNode(t, seed, nil)
		for i := 0; ; i++ {
			ps, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces)
			if errors.Is(err, errRefused) {
				t.Logf("refused at link %d", i+1)
				break
			}
			// Of two links of one peer the seeder may keep the old one and
			// reset the new: that is no refusal yet.
			if err == nil {
				_ = ps.st.Close()
			}
			if i > 1000 {
				t.Fatal("1000 links in a row and no refusal")
			}
		}
		if !se.Banned(att.h.ID()) {
			t.Fatal("the attacker is refused but not banned")
		}
	})

	t.Run("back again and again while banned", func(t *testing.T) {
		att := testNode(t, seed, nil)
		ps, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces)
		if err != nil {
			t.Fatal(err)
		}
		_ = floods["requests"](ps, pieces, floodPiece)
		waitUntil(t, 10*time.Second, "the seeder does not refuse the attacker", func() bool { return se.Banned(att.h.ID()) })
		refusals := 0
		for ; refusals <= 1000; refusals++ {
			if _, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces); !errors.Is(err, errRefused) {
				t.Logf("after %d refusals: %v", refusals, err)
				break
			}
		}
		if !seed.net.m.Blocked(att.h.ID()) {
			t.Fatalf("the seeder refused %d streams and never blocked the attacker", refusals)
		}
		// Refused at the connection now, not by a Refuse on a stream.
		if _, err := openPieces(ctx, att.h, seed.h.ID(), ih, pieces); err == nil || errors.Is(err, errRefused) {
			t.Fatalf("the blocked attacker's next stream: %v, want no connection", err)
		}
	})

	t.Run("many streams", func(t *testing.T) {
		att := testNode(t, seed, nil)
		const tries = 3 * ihost.MaxPieceStreamsPerPeer
		// Each stream sends nothing: one the seeder accepted waits for a
		// Hello (until the handshake timeout, 10 s); one it refused is
		// reset at once.
		var held, refused atomic.Int32
		var wg sync.WaitGroup
		streams := make([]network.Stream, tries)
		defer func() {
			for _, st := range streams {
				if st != nil {
					_ = st.Reset()
				}
			}
		}()
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := att.h.NewStream(ctx, seed.h.ID(), wire.Protocol)
				if err != nil {
					refused.Add(1)
					return
				}
				streams[i] = st
				_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
				var ne net.Error
				if _, err := st.Read(make([]byte, 1)); errors.As(err, &ne) && ne.Timeout() {
					held.Add(1)
				} else {
					refused.Add(1)
				}
			}()
		}
		wg.Wait()
		t.Logf("of %d streams opened at once the seeder held %d and refused %d", tries, held.Load(), refused.Load())
		if held.Load() == 0 || held.Load() > ihost.MaxPieceStreamsPerPeer {
			t.Errorf("the seeder held %d piece streams of one peer, want 1..%d", held.Load(), ihost.MaxPieceStreamsPerPeer)
		}
		// Each stream the seeder held ends with no Hello: a peer that
		// wastes that many is blocked.
		for _, st := range streams {
			if st != nil {
				_ = st.Reset()
			}
		}
		waitUntil(t, 10*time.Second, "the seeder never blocked a peer that opened streams for nothing", func() bool {
			return seed.net.m.Blocked(att.h.ID())
		})
	})

	if err := d.Wait(ctx); err != nil {
		t.Fatalf("honest fetch: %v", err)
	}
	if got, err := os.ReadFile(d.Path()); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("honest fetch: content differs from the source (%v)", err)
	}
}
