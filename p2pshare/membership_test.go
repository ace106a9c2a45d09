package p2pshare

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/mailbox"
	"github.com/p2pshare/p2pshare/internal/membership"
	"github.com/p2pshare/p2pshare/internal/wire"
)

// probe is one way an outsider asks a member for something. It returns
// what it got; nil means the member gave nothing.
type probe func(ctx context.Context, h host.Host, member peer.ID, ih Infohash) []byte

var probes = map[string]probe{
	"piece stream": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, wire.Protocol, func(w io.Writer) {
			ww := wire.NewWriter(w)
			_ = ww.Write(wire.Msg{Type: wire.Hello, Data: ih.Bytes()}, wire.Limits{})
			_ = ww.Flush()
		})
	},
	"manifest": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, wire.ManifestProtocol, func(w io.Writer) { _ = wire.WriteManifestRequest(w, ih.Bytes()) })
	},
	"DHT FIND_NODE": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, "/p2pshare/kad/1.0.0", dhtRequest(pb.NewMessage(pb.Message_FIND_NODE, []byte(m), 0)))
	},
	"DHT GET_PROVIDERS": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, "/p2pshare/kad/1.0.0", dhtRequest(pb.NewMessage(pb.Message_GET_PROVIDERS, ih.Hash(), 0)))
	},
	"private message": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, msgProto, func(w io.Writer) { _ = mailbox.WriteFrame(w, []byte("p2m1 not really")) })
	},
	"inbox": func(ctx context.Context, h host.Host, m peer.ID, ih Infohash) []byte {
		return ask(ctx, h, m, mailbox.Protocol, func(w io.Writer) {
			_ = mailbox.WriteFrame(w, mailbox.Request{Op: mailbox.OpHave, Owner: m}.Encode())
		})
	},
}

// dhtRequest writes one varint-delimited DHT message, as kad-dht frames it.
func dhtRequest(msg *pb.Message) func(io.Writer) {
	return func(w io.Writer) {
		b, _ := proto.Marshal(msg)
		_, _ = w.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...))
	}
}

// ask opens a stream on proto, sends a request and returns whatever the
// member answers before the stream ends.
func ask(ctx context.Context, h host.Host, m peer.ID, proto protocol.ID, send func(io.Writer)) []byte {
	st, err := h.NewStream(ctx, m, proto)
	if err != nil {
		return nil
	}
	defer st.Reset()
	_ = st.SetDeadline(time.Now().Add(2 * time.Second))
	send(st)
	b, _ := io.ReadAll(bufio.NewReader(st))
	return b
}

// TestOutsidersGetNothing runs every probe from a node of another network
// (a certificate from another CA) and from a bare host (no certificate)
// against a member holding a share, and checks that a fellow member gets
// answers to the same probes — so the probes can tell.
func TestOutsidersGetNothing(t *testing.T) {
	boot := testNode(t, nil, nil)
	src, _ := randomFile(t, t.TempDir(), 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	member := testNode(t, boot, nil)
	d, err := member.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "copy")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	fellow := testNode(t, boot, nil)

	otherNet := testNode(t, nil, nil) // its own CA
	key, _, _ := crypto.GenerateEd25519Key(nil)
	bare, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	expired := expiredMember(t, boot)
	askers := map[string]host.Host{"member": fellow.h, "other network": otherNet.h, "no certificate": bare, "expired certificate": expired}
	target := peer.AddrInfo{ID: member.h.ID(), Addrs: member.h.Addrs()}
	for who, h := range askers {
		for what, p := range probes {
			t.Run(who+"/"+what, func(t *testing.T) {
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				defer pcancel()
				_ = h.Connect(pctx, target)
				got := p(pctx, h, member.h.ID(), ih)
				if who == "member" && len(got) == 0 {
					t.Fatal("a member got no answer: the probe cannot tell")
				}
				if who != "member" && len(got) != 0 {
					t.Fatalf("an outsider got %d bytes", len(got))
				}
			})
		}
	}
	if member.IsMember(otherNet.h.ID()) || member.IsMember(bare.ID()) || member.IsMember(expired.ID()) {
		t.Fatal("an outsider counts as a member")
	}
	if !member.IsMember(fellow.h.ID()) {
		t.Fatal("a fellow member does not count as one")
	}
}

// expiredMember is a host that presents a certificate from the right CA
// that expired ten days ago.
func expiredMember(t *testing.T, boot *Swarm) host.Host {
	t.Helper()
	key, _, _ := crypto.GenerateEd25519Key(nil)
	id, _ := peer.IDFromPrivateKey(key)
	ca := boot.net.boot.CA()
	mc, err := ca.Issue(membership.IssueRequest{Peer: id, Name: "old", Role: membership.RoleStudent, Now: time.Now().Add(-40 * 24 * time.Hour)})
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

// TestRevokedMemberIsDropped: the bootstrap revokes a member; the others
// drop it, and it can fetch nothing more.
func TestRevokedMemberIsDropped(t *testing.T) {
	boot := testNode(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, _ := randomFile(t, t.TempDir(), 256<<10)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := testNode(t, boot, func(c *Config) { c.Name = "mallory" })
	others := []*Swarm{testNode(t, boot, nil), testNode(t, boot, nil)}
	for _, o := range others {
		_ = o.h.Connect(ctx, peer.AddrInfo{ID: bad.h.ID(), Addrs: bad.h.Addrs()})
	}
	if err := boot.Revoke("mallory"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for _, o := range append(others, boot) {
		for o.IsMember(bad.h.ID()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still counts the revoked member after 10 s", o.ID())
			}
			<-tick.C
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 3*time.Second)
	defer fcancel()
	if _, err := bad.Fetch(fctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "x")}); err == nil {
		t.Fatal("a revoked member fetched the share")
	}
	for what, p := range probes {
		_ = bad.h.Connect(ctx, peer.AddrInfo{ID: boot.h.ID(), Addrs: boot.h.Addrs()})
		if got := p(ctx, bad.h, boot.h.ID(), ih); len(got) != 0 {
			t.Errorf("revoked member: %s got %d bytes", what, len(got))
		}
	}
}
