package p2pshare

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/wire"
)

// TestCancelWithdrawsARequestWaitingForTheCap: a request whose piece waits
// for the uploader's cap is still withdrawn by a Cancel, and the cap's
// tokens go to the request after it. A member asks a seeder capped at
// 8 KiB/s for three 16 KiB pieces. The first goes out on the cap's burst;
// once it is in, the second waits two seconds for its tokens, and the
// member cancels it. What comes next is the third. Before, the second was
// taken from the queue when its wait began, and sent though cancelled.
func TestCancelWithdrawsARequestWaitingForTheCap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 16
	dir := t.TempDir()
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 8 << 10 })
	src, want := randomFile(t, dir, pieces*piece)
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
	next := func(i uint32) {
		t.Helper()
		select {
		case m := <-ps.pieces:
			if m.Index != i {
				t.Fatalf("got piece %d, want %d (piece 3 was cancelled)", m.Index, i)
			}
			if !bytes.Equal(m.Data, want[int(i)*piece:int(i+1)*piece]) {
				t.Fatalf("piece %d holds the wrong bytes", i)
			}
		case <-ps.cut:
			t.Fatalf("the seeder ended the stream before piece %d", i)
		case <-ctx.Done():
			t.Fatalf("no piece %d: %v", i, ctx.Err())
		}
	}
	send(wire.Msg{Type: wire.Request, Index: 1}, wire.Msg{Type: wire.Request, Index: 3}, wire.Msg{Type: wire.Request, Index: 5})
	// Piece 1 came on the burst; piece 3 now waits for its tokens.
	next(1)
	send(wire.Msg{Type: wire.Cancel, Index: 3})
	next(5)
}
