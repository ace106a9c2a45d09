package p2pshare

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/wire"
)

// TestHavesLeaveTogether: a member fetching a share tells a peer that
// did not send it its pieces in few writes, several Haves to a write,
// and tells it of every piece. The observer reads the member's stream by
// hand: each read returns at most one mux frame, that is one write of the
// member's. The Haves' timer is set beyond the test, so they leave when
// eight wait, with another message, or when the fetch completes.
func TestHavesLeaveTogether(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const piece, pieces = 16 << 10, 40
	dir := t.TempDir()
	// Paced, so that pieces reach the member one by one, over 4 s: the
	// observer links to it well before most have come.
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 10 * piece })
	src, _ := randomFile(t, dir, pieces*piece)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: piece})
	if err != nil {
		t.Fatal(err)
	}
	member := testNode(t, seed, func(c *Config) { c.haveDelay = time.Hour })
	observer := testNode(t, seed, nil)
	d, err := member.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out")})
	if err != nil {
		t.Fatal(err)
	}
	// The stream is read by hand: openPieces's reader would hide the
	// member's writes.
	st, err := observer.h.NewStream(ctx, member.h.ID(), wire.Protocol)
	if err != nil {
		t.Fatalf("opening a piece stream to the member: %v", err)
	}
	defer st.Reset()
	w := wire.NewWriter(st)
	for _, m := range []wire.Msg{{Type: wire.Hello, Data: ih.Bytes()}, {Type: wire.Bitfield, Data: make([]byte, (pieces+7)/8)}} {
		if err := w.Write(m, attackLimits); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = st.SetReadDeadline(time.Now().Add(30 * time.Second))
	held := map[uint32]bool{}
	writes := 0 // the member's writes that carried a Have
	announced := 0
	buf := make([]byte, 1<<20)
	var pending []byte
	for len(held) < pieces {
		n, err := st.Read(buf)
		if err != nil {
			t.Fatalf("reading the member's stream with %d of %d pieces announced: %v", len(held), pieces, err)
		}
		pending = append(pending, buf[:n]...)
		haves := 0
		for len(pending) >= 4 {
			size := int(binary.BigEndian.Uint32(pending))
			if len(pending) < 4+size {
				break
			}
			m := pending[4 : 4+size]
			pending = pending[4+size:]
			switch wire.Type(m[0]) {
			case wire.Refuse:
				t.Fatalf("the member refused the stream: %q", m[1:])
			case wire.Bitfield:
				for i := range pieces {
					if m[1+i/8]&(0x80>>(i%8)) != 0 {
						held[uint32(i)] = true
					}
				}
			case wire.Have:
				haves++
				held[binary.BigEndian.Uint32(m[1:])] = true
			}
		}
		if haves > 0 {
			writes++
			announced += haves
		}
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if announced < pieces/2 {
		t.Fatalf("only %d of %d pieces came as Haves, the rest in the bitfield: the test needs the member to get most pieces after the observer linked", announced, pieces)
	}
	if writes > announced/3 {
		t.Fatalf("the member announced %d pieces in %d writes; want at most %d", announced, writes, announced/3)
	}
	t.Logf("%d Haves in %d writes", announced, writes)
}
