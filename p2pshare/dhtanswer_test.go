package p2pshare

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/p2pshare/p2pshare/internal/discovery"
)

// TestBadDHTAnswersCrashNoOne is the attack of a member (mallory) whose DHT
// answers a PUT_VALUE without the record it stores, and answers an
// ADD_PROVIDER, where no answer is due (a node that reuses its stream reads
// that as the next request's answer). kad-dht v0.42.2's own sender and
// messenger read the missing record through a nil pointer: the node that
// stored a record at mallory crashed. A member that shares a file stores
// its manifest and announces itself at the nodes closest to it, mallory
// among them; it must go on, its publication counted a failure at mallory.
func TestBadDHTAnswersCrashNoOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	m := testNode(t, boot, nil)
	mallory := certifiedHost(t, boot, "mallory")
	var puts atomic.Int64
	mallory.SetStreamHandler(discovery.ProtocolPrefix+"/kad/1.0.0", func(st network.Stream) {
		defer st.Reset()
		r := pbio.NewDelimitedReader(st, network.MessageSizeMax)
		w := pbio.NewDelimitedWriter(st)
		for {
			var req pb.Message
			if err := r.ReadMsg(&req); err != nil {
				return
			}
			if req.GetType() == pb.Message_PUT_VALUE {
				puts.Add(1)
			}
			// No record in any answer, and an answer to everything.
			if err := w.WriteMsg(pb.NewMessage(req.GetType(), req.GetKey(), 0)); err != nil {
				return
			}
		}
	})
	if err := mallory.Connect(ctx, peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the member to count mallory a member", func() bool { return m.IsMember(mallory.ID()) })
	m.dht.TryAdd(mallory.ID())

	src, _ := randomFile(t, t.TempDir(), 64<<10)
	ih, err := m.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the member to store its manifest at mallory", func() bool { return puts.Load() > 0 })
	// Still alive, and still a working member: its lookups go on.
	if _, err := m.dht.Closest(ctx, "/p2pshare-test/after"); err != nil {
		t.Fatalf("a lookup after mallory's answers: %v", err)
	}
	if _, ok := m.Progress(ih); !ok {
		t.Fatal("the member lost its share after mallory's answers")
	}
}
