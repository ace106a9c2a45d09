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
	dir := t.TempDir()
	// A piece whose Have does not come stays in flight longer than the
	// test lasts.
	seed := testNode(t, nil, func(c *Config) { c.flightTimeout = time.Hour })
	src, _ := randomFile(t, dir, pieces*piece)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: piece})
	if err != nil {
		t.Fatal(err)
	}
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
	next := func(ps *pieceStream) wire.Msg {
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
