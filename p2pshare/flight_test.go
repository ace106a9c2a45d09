package p2pshare

import (
	"context"
	"path/filepath"
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

// TestStrayCopyIsAcknowledged: a piece that comes after its request was
// withdrawn (the endgame asked two peers and the other's copy came first,
// so our Cancel crossed this one) is answered with a Have when we hold the
// piece. Its sender keeps it in its flight until a Have comes; before, the
// Have was withheld from a sender that holds the piece and is fetching,
// until we completed, and the copy took a place in the sender's flight
// for FlightTimeout: in a quiz's endgame the uploaders' flights filled with
// such copies and a student two pieces short waited 4.5 s. Here a member
// that fetched the whole share gets a piece it never asked for from a
// peer that is fetching from it.
func TestStrayCopyIsAcknowledged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 8
	dir := t.TempDir()
	seed := testNode(t, nil, nil)
	src, _ := randomFile(t, dir, pieces*piece)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: piece})
	if err != nil {
		t.Fatal(err)
	}
	member := testNode(t, seed, nil)
	d, err := member.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	peer := testNode(t, seed, nil)
	ps, err := openPieces(ctx, peer.h, member.h.ID(), ih, pieces)
	if err != nil {
		t.Fatalf("opening a piece stream: %v", err)
	}
	defer ps.st.Reset()
	// Fetching (it asks for piece 0), and sending piece 3 unasked.
	ps.send(t, wire.Msg{Type: wire.Request, Index: 0}, wire.Msg{Type: wire.Piece, Index: 3, Data: make([]byte, piece)})
	select {
	case m := <-ps.haves:
		if m.Index != 3 {
			t.Fatalf("the member answered the copy of piece 3 with a Have for piece %d", m.Index)
		}
	case <-ps.cut:
		t.Fatal("the member ended the stream")
	case <-time.After(10 * time.Second):
		t.Fatal("no Have for the copy of piece 3 within 10 s")
	}
}
