package p2pshare

import (
	"context"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/upload"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// TestUncappedSeederWaitsForHaves: a seeder with no upload cap keeps only
// so much in flight to its peers until they say they got it, and no peer
// may hold more than half of that. Two members ask it for every piece of a
// share and send no Have: each gets half of the first
// upload.MinFlightPieces, and the seeder sends nothing more. One member
// then sends Haves, and each lets one more piece go to it; the other, who
// never acknowledges, gets nothing more. Before, the seeder sent whatever
// was asked at once, as fast as its connections took it, whatever its
// link; a member that never acknowledged could then have held the whole
// flight.
func TestUncappedSeederWaitsForHaves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 32
	const half = upload.MinFlightPieces / 2
	seed, ih := uncappedSeed(t, ctx, pieces, piece)
	var reqs []wire.Msg
	for i := range pieces {
		reqs = append(reqs, wire.Msg{Type: wire.Request, Index: uint32(i)})
	}
	var streams [2]*pieceStream
	for k := range streams {
		member := testNode(t, seed, nil)
		ps, err := openPieces(ctx, member.h, seed.h.ID(), ih, pieces)
		if err != nil {
			t.Fatalf("opening a piece stream: %v", err)
		}
		defer ps.st.Reset()
		ps.send(t, reqs...)
		streams[k] = ps
	}
	next := func(ps *pieceStream) wire.Msg { t.Helper(); return nextPiece(t, ctx, ps) }
	uploaded := func() int64 {
		p, _ := seed.Progress(ih)
		return p.Uploaded
	}
	var got [2][]wire.Msg
	for k, ps := range streams {
		for range half {
			got[k] = append(got[k], next(ps))
		}
	}
	if n := uploaded(); n != upload.MinFlightPieces*piece {
		t.Fatalf("the seeder sent %d bytes before any Have; want %d pieces of %d", n, upload.MinFlightPieces, piece)
	}
	honest := streams[1]
	for k := 1; k <= 3; k++ {
		honest.send(t, wire.Msg{Type: wire.Have, Index: got[1][k-1].Index})
		got[1] = append(got[1], next(honest))
		waitUntil(t, 20*time.Second, "the seeder sending the piece a Have made room for", func() bool {
			return uploaded() >= int64(upload.MinFlightPieces+k)*piece
		})
		if n := uploaded(); n != int64(upload.MinFlightPieces+k)*piece {
			t.Fatalf("after %d Haves the seeder sent %d bytes; want %d pieces", k, n, upload.MinFlightPieces+k)
		}
	}
	select {
	case m := <-streams[0].pieces:
		t.Fatalf("the member that never acknowledged got piece %d beyond its half of the flight", m.Index)
	default:
	}
}

// TestCancelledCopyLeavesTheFlight: a Cancel for a piece the seeder sent
// already takes it out of the seeder's flight at once, so the room goes to
// the next piece. A member asks an uncapped seeder for every piece and
// sends no Have; it gets half of the first upload.MinFlightPieces. It
// cancels one it got (as when the endgame's other copy came first), and
// the seeder sends one more. Before, the copy held its place until
// FlightTimeout (here an hour).
func TestCancelledCopyLeavesTheFlight(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 32
	const half = upload.MinFlightPieces / 2
	seed, ih := uncappedSeed(t, ctx, pieces, piece)
	member := testNode(t, seed, nil)
	ps, err := openPieces(ctx, member.h, seed.h.ID(), ih, pieces)
	if err != nil {
		t.Fatalf("opening a piece stream: %v", err)
	}
	defer ps.st.Reset()
	var reqs []wire.Msg
	for i := range pieces {
		reqs = append(reqs, wire.Msg{Type: wire.Request, Index: uint32(i)})
	}
	ps.send(t, reqs...)
	var got []wire.Msg
	for range half {
		got = append(got, nextPiece(t, ctx, ps))
	}
	select {
	case m := <-ps.pieces:
		t.Fatalf("piece %d beyond the member's half of the flight before any Have or Cancel", m.Index)
	default:
	}
	ps.send(t, wire.Msg{Type: wire.Cancel, Index: got[0].Index})
	select {
	case m := <-ps.pieces:
		if m.Index == got[0].Index {
			t.Fatalf("the seeder sent the cancelled piece %d again", m.Index)
		}
	case <-ps.cut:
		t.Fatal("the seeder ended the stream")
	case <-time.After(10 * time.Second):
		t.Fatal("no piece within 10 s of cancelling one already sent: the copy still holds its place in the flight")
	}
}

// uncappedSeed is a node with no upload cap sharing a random file of
// pieces pieces of piece bytes; a piece whose Have does not come stays in
// its flight longer than a test lasts.
func uncappedSeed(t *testing.T, ctx context.Context, pieces, piece int) (*Swarm, Infohash) {
	t.Helper()
	seed := testNode(t, nil, func(c *Config) { c.flightTimeout = time.Hour })
	src, _ := randomFile(t, t.TempDir(), pieces*piece)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: int64(piece)})
	if err != nil {
		t.Fatal(err)
	}
	return seed, ih
}

// nextPiece is the next piece the peer sends on ps.
func nextPiece(t *testing.T, ctx context.Context, ps *pieceStream) wire.Msg {
	t.Helper()
	select {
	case m := <-ps.pieces:
		return m
	case <-ps.cut:
		t.Fatal("the seeder ended the stream")
	case <-ctx.Done():
		t.Fatalf("no piece: %v", ctx.Err())
	}
	return wire.Msg{}
}
