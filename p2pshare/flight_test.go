package p2pshare

import (
	"context"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/upload"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// TestUncappedSeederWaitsForHaves: a seeder with no upload cap keeps only
// so much in flight to its peers until they say they got it. A member asks
// it for every piece of a share and sends no Have: the seeder sends the
// first upload.MinFlightPieces and no more. Each Have the member sends
// then lets one more piece go. Before, the seeder sent whatever was asked
// at once, as fast as its connections took it, whatever its link.
func TestUncappedSeederWaitsForHaves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 32
	dir := t.TempDir()
	// A piece whose Have does not come stays in flight longer than the
	// test lasts.
	seed := testNode(t, nil, func(c *Config) { c.flightTimeout = time.Hour })
	src, _ := randomFile(t, dir, pieces*piece)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: piece})
	if err != nil {
		t.Fatal(err)
	}
	member := testNode(t, seed, nil)
	ps, err := openPieces(ctx, member.h, seed.h.ID(), ih, pieces)
	if err != nil {
		t.Fatalf("opening a piece stream: %v", err)
	}
	defer ps.st.Reset()
	send := func(msgs ...wire.Msg) { t.Helper(); ps.send(t, msgs...) }
	next := func() wire.Msg {
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
	var reqs []wire.Msg
	for i := range pieces {
		reqs = append(reqs, wire.Msg{Type: wire.Request, Index: uint32(i)})
	}
	send(reqs...)
	var got []wire.Msg
	for range upload.MinFlightPieces {
		got = append(got, next())
	}
	if n := uploaded(); n != upload.MinFlightPieces*piece {
		t.Fatalf("the seeder sent %d bytes before any Have; want %d pieces of %d", n, upload.MinFlightPieces, piece)
	}
	for k := 1; k <= 3; k++ {
		send(wire.Msg{Type: wire.Have, Index: got[k-1].Index})
		got = append(got, next())
		waitUntil(t, 20*time.Second, "the seeder sending the piece a Have made room for", func() bool {
			return uploaded() >= int64(upload.MinFlightPieces+k)*piece
		})
		if n := uploaded(); n != int64(upload.MinFlightPieces+k)*piece {
			t.Fatalf("after %d Haves the seeder sent %d bytes; want %d pieces", k, n, upload.MinFlightPieces+k)
		}
	}
}
