package p2pshare

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/discovery"
	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// certifiedHost is a host with a Membership whose certificate the
// bootstrap's CA issued under name, unregistered: a member whose software
// does what a test makes it do.
func certifiedHost(t *testing.T, boot *Swarm, name string) host.Host {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPrivateKey(key)
	ca := boot.net.boot.CA()
	mc, err := ca.Issue(membership.IssueRequest{Peer: id, Name: name, Role: membership.RoleStudent, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := membership.New(membership.Config{CA: ca.CertDER(), Cert: mc.DER, Self: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}, Gater: m.Gater()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	m.Attach(h)
	return h
}

// pieceBait is a peer that is no member (a bare libp2p host) and serves
// the piece protocol to anyone: it accepts every Hello, claims every
// piece, and records every message a stream brings after the Hello.
type pieceBait struct {
	h    host.Host
	mu   sync.Mutex
	got  []wire.Type
	seen map[peer.ID]bool // peers that connected to it
}

func newPieceBait(t *testing.T, pieces int) *pieceBait {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(nil)
	h, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	b := &pieceBait{h: h, seen: map[peer.ID]bool{}}
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		b.mu.Lock()
		b.seen[c.RemotePeer()] = true
		b.mu.Unlock()
	}})
	h.SetStreamHandler(wire.Protocol, func(st network.Stream) {
		defer st.Reset()
		rd := wire.NewReader(st, attackLimits)
		hello, err := rd.Read()
		if err != nil || hello.Type != wire.Hello {
			return
		}
		all := make([]byte, (pieces+7)/8)
		for i := range all {
			all[i] = 0xff
		}
		all[len(all)-1] <<= uint(len(all)*8 - pieces)
		w := wire.NewWriter(st)
		_ = w.Write(wire.Msg{Type: wire.Hello, Data: hello.Data}, attackLimits)
		_ = w.Write(wire.Msg{Type: wire.Bitfield, Data: all}, attackLimits)
		if w.Flush() != nil {
			return
		}
		for {
			m, err := rd.Read()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.got = append(b.got, m.Type)
			b.mu.Unlock()
		}
	})
	return b
}

func (b *pieceBait) info() peer.AddrInfo { return peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()} }

// reachedBy reports whether p has connected to the bait.
func (b *pieceBait) reachedBy(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[p]
}

// received is what the bait was sent after Hellos.
func (b *pieceBait) received() []wire.Type {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// advertise is one way a member (mallory, whose link to the victim is w)
// makes the victim hear of the bait.
type advertise func(t *testing.T, mallory host.Host, w *wire.Writer, bait peer.AddrInfo)

var advertisements = map[string]advertise{
	// Mallory names the bait in a peer list on its link.
	"peer exchange": func(t *testing.T, _ host.Host, w *wire.Writer, bait peer.AddrInfo) {
		e := wire.PeerEntry{ID: []byte(bait.ID)}
		for _, a := range bait.Addrs {
			e.Addrs = append(e.Addrs, a.Bytes())
		}
		list, err := wire.EncodePeers([]wire.PeerEntry{e})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(wire.Msg{Type: wire.Peers, Data: list}, attackLimits); err != nil || w.Flush() != nil {
			t.Fatalf("naming the bait to the member: %v", err)
		}
	},
}

// TestNonMemberHeardOfIsNotTraded is the attack: a member that is
// fetching hears of a peer that is no member — from a member (mallory)
// that names it in peer exchange — and dials it. The peer serves the piece protocol to anyone and claims
// every piece. The member must not link to it: send it no bitfield, no
// request, no peer list, nor name it to anyone (mallory included).
func TestNonMemberHeardOfIsNotTraded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	src, _ := randomFile(t, t.TempDir(), 4<<20)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for how, adv := range advertisements {
		t.Run(how, func(t *testing.T) { baitMember(ctx, t, boot, ih, adv) })
	}
}

// baitMember runs the attack on a fresh member fetching ih from boot.
func baitMember(ctx context.Context, t *testing.T, boot *Swarm, ih Infohash, adv advertise) {
	// A slow fetch, still fetching (and so dialling) when it hears of
	// the bait.
	m := testNode(t, boot, func(c *Config) { c.DownloadLimit = 128 << 10 })
	d, err := m.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "copy")})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	events := d.Events()
	pieces := d.se.Manifest().NumPieces()
	bait := newPieceBait(t, pieces)

	mallory := certifiedHost(t, boot, "mallory")
	if err := mallory.Connect(ctx, peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the member to count mallory a member", func() bool { return m.IsMember(mallory.ID()) })
	// Mallory links to the member too, to hear whom it names.
	st, err := mallory.NewStream(ctx, m.h.ID(), wire.Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	w := wire.NewWriter(st)
	rd := wire.NewReader(st, attackLimits)
	_ = w.Write(wire.Msg{Type: wire.Hello, Data: ih.Bytes()}, attackLimits)
	_ = w.Write(wire.Msg{Type: wire.Bitfield, Data: make([]byte, (pieces+7)/8)}, attackLimits)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if hello, err := rd.Read(); err != nil || hello.Type != wire.Hello {
		t.Fatalf("mallory's link: %v, %v", hello.Type, err)
	}
	told := make(chan []wire.PeerEntry, 64) // peer lists the member sent mallory
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			msg, err := rd.Read()
			if err != nil {
				return
			}
			if msg.Type != wire.Peers {
				continue
			}
			list, err := wire.DecodePeers(msg.Data)
			if err != nil {
				continue
			}
			select {
			case told <- list:
			case <-stop:
				return
			}
		}
	}()
	adv(t, mallory, w, bait.info())

	waitUntil(t, 30*time.Second, "the member to dial the bait", func() bool { return bait.reachedBy(m.h.ID()) })
	waitUntil(t, 20*time.Second, "the member to cut the bait, which proves nothing", func() bool {
		return m.h.Network().Connectedness(bait.h.ID()) != network.Connected
	})
	if got := bait.received(); len(got) > 0 {
		t.Errorf("the member sent the non-member %v after the Hellos; want nothing", got)
	}
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.Kind == EventPeerConnected && ev.Peer == bait.h.ID() {
				t.Errorf("the member linked to the non-member")
			}
		default:
			done = true
		}
	}
	for done := false; !done; {
		select {
		case l := <-told:
			for _, e := range l {
				if peer.ID(e.ID) == bait.h.ID() {
					t.Errorf("the member named the non-member to mallory")
				}
			}
		default:
			done = true
		}
	}
}

// serveDHT answers the DHT protocol on h, counting the requests in asked:
// a PUT_VALUE as an honest node does (kad-dht v0.42.2 crashes on an answer
// without the record), an ADD_PROVIDER not at all (none is due: an answer
// would be read as the next request's), and every other request the way
// answer makes it.
func serveDHT(h host.Host, asked *atomic.Int64, answer func(req *pb.Message) *pb.Message) {
	h.SetStreamHandler(discovery.ProtocolPrefix+"/kad/1.0.0", func(st network.Stream) {
		defer st.Reset()
		r := pbio.NewDelimitedReader(st, network.MessageSizeMax)
		w := pbio.NewDelimitedWriter(st)
		for {
			var req pb.Message
			if err := r.ReadMsg(&req); err != nil {
				return
			}
			asked.Add(1)
			var resp *pb.Message
			switch req.GetType() {
			case pb.Message_ADD_PROVIDER:
				continue
			case pb.Message_PUT_VALUE:
				resp = &req
			default:
				resp = answer(&req)
			}
			if err := w.WriteMsg(resp); err != nil {
				return
			}
		}
	})
}

// TestLookupAsksNoNonMember is the attack on lookups: a member (mallory)
// in the victim's routing table answers every DHT query by naming, as
// closer to the key, a peer that is no member and speaks the DHT. The
// victim's lookup must ask that peer nothing (a query would tell it the
// key), and must not count it among the nodes closest to the key (where
// records and parked messages would go).
func TestLookupAsksNoNonMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	m := testNode(t, boot, nil)

	key, _, _ := crypto.GenerateEd25519Key(nil)
	bait, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer bait.Close()
	var baitAsked, malloryAsked atomic.Int64
	serveDHT(bait, &baitAsked, func(req *pb.Message) *pb.Message {
		return pb.NewMessage(req.GetType(), req.GetKey(), 0)
	})
	mallory := certifiedHost(t, boot, "mallory")
	named := []peer.AddrInfo{{ID: bait.ID(), Addrs: bait.Addrs()}}
	serveDHT(mallory, &malloryAsked, func(req *pb.Message) *pb.Message {
		resp := pb.NewMessage(req.GetType(), req.GetKey(), 0)
		resp.CloserPeers = pb.RawPeerInfosToPBPeers(named)
		return resp
	})
	if err := mallory.Connect(ctx, peer.AddrInfo{ID: m.h.ID(), Addrs: m.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the member to count mallory a member", func() bool { return m.IsMember(mallory.ID()) })
	m.dht.TryAdd(mallory.ID())

	found, err := m.dht.Closest(ctx, "/p2pshare-test/"+bait.ID().String())
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if malloryAsked.Load() == 0 {
		t.Fatal("the lookup never asked mallory: the test does not test what it says")
	}
	if slices.Contains(found, bait.ID()) {
		t.Errorf("the lookup counts the non-member among the closest nodes: %v", found)
	}
	if n := baitAsked.Load(); n > 0 {
		t.Errorf("the lookup sent the non-member %d DHT requests", n)
	}
}
