package discovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/replication"
)

// testNS is a record namespace whose values are any payload starting with
// "ok", so the test can publish arbitrary records.
const testNS = "p2pshare-test"

type okValidator struct{}

func (okValidator) Validate(_ string, v []byte) error {
	if !strings.HasPrefix(string(v), "ok") {
		return errors.New("not ok")
	}
	return nil
}
func (okValidator) Select(string, [][]byte) (int, error) { return 0, nil }

// startNodes starts n DHT nodes on real loopback hosts, each joined
// through node 0, with k replicas and short intervals.
func startNodes(t *testing.T, n int, opts Options) []*DHT {
	t.Helper()
	var out []*DHT
	var boot []peer.AddrInfo
	for i := range n {
		key, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
		if err != nil {
			t.Fatal(err)
		}
		o := opts
		o.Bootstrap = boot
		o.Validators = map[string]record.Validator{testNS: okValidator{}}
		d, err := New(h, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(); h.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.Join(ctx); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		cancel()
		if i == 0 {
			boot = []peer.AddrInfo{{ID: h.ID(), Addrs: h.Addrs()}}
		}
		out = append(out, d)
	}
	return out
}

// holds reports whether d keeps a copy of key.
func (d *DHT) holds(key string) bool {
	ns := strings.Split(key, "/")[1]
	return replication.Holds(context.Background(), d.store, ns, key)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		<-tick.C
	}
}

// TestRecordOutlivesItsHolders: a record published by one node survives
// its publisher and all but one of the nodes that first held it leaving
// abruptly, because
// the remaining holders re-store it on the new k closest each round; and
// once nobody refreshes it, it expires within its TTL.
func TestRecordOutlivesItsHolders(t *testing.T) {
	const n, k = 10, 3
	nodes := startNodes(t, n, Options{Replicas: k, Republish: 300 * time.Millisecond, RecordTTL: 6 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := "/" + testNS + "/lab-image"
	pub := nodes[n-1]
	if err := pub.Publish(ctx, key, []byte("ok, version 1"), 1); err != nil {
		t.Fatal(err)
	}
	holders := func() []*DHT {
		var hs []*DHT
		for _, d := range nodes {
			if d.holds(key) {
				hs = append(hs, d)
			}
		}
		return hs
	}
	first := holders()
	t.Logf("held first by %d nodes", len(first))
	// The publisher and every first holder but one leave abruptly; node 0
	// (the bootstrap) stays too, so the rest stay connected.
	gone := map[*DHT]bool{pub: true}
	kept := false
	for _, d := range first {
		switch {
		case d == pub || d == nodes[0]:
		case !kept:
			kept = true
		default:
			gone[d] = true
		}
	}
	pub.Unpublish(key)
	var live []*DHT
	for _, d := range nodes {
		if gone[d] {
			d.Close()
			d.h.Close()
		} else {
			live = append(live, d)
		}
	}
	if len(live) < 2 {
		t.Fatalf("only %d nodes left", len(live))
	}
	// Within a few rounds the survivors hold it again and any of them
	// reads it.
	waitFor(t, "the record readable from every survivor", 30*time.Second, func() bool {
		for _, d := range live {
			gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := d.GetValue(gctx, key)
			gcancel()
			if err != nil || string(v) != "ok, version 1" {
				return false
			}
		}
		return true
	})
	var held int
	for _, d := range live {
		if d.holds(key) {
			held++
		}
	}
	t.Logf("after the holders left: %d of %d survivors hold it", held, len(live))
	if held < min(k, len(live))-1 {
		t.Errorf("only %d survivors hold the record, want at least %d", held, min(k, len(live))-1)
	}
	// Nobody refreshes it now: it expires everywhere within the TTL.
	waitFor(t, "the record expired everywhere", 30*time.Second, func() bool {
		for _, d := range live {
			if d.holds(key) {
				return false
			}
		}
		return true
	})
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	defer gcancel()
	if v, err := live[0].GetValue(gctx, key); err == nil {
		t.Fatalf("expired record still read: %q", v)
	}
}

// TestPublishReplacesAndVersions: a newer version wins everywhere; an
// invalid payload is refused.
func TestPublishReplacesAndVersions(t *testing.T) {
	nodes := startNodes(t, 5, Options{Replicas: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := "/" + testNS + "/crl"
	for v := uint64(1); v <= 3; v++ {
		if err := nodes[v].Publish(ctx, key, fmt.Appendf(nil, "ok %d", v), v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := nodes[4].GetValue(ctx, key)
	if err != nil || string(got) != "ok 3" {
		t.Fatalf("read %q, %v; want the newest version", got, err)
	}
	if err := nodes[0].Publish(ctx, key, []byte("bad"), 9); err == nil {
		t.Fatal("an invalid payload was stored")
	}
}

// TestProviderRecordsExpire: a provider that stops re-announcing (a seeder
// that left) disappears from the providers found within the provider TTL.
func TestProviderRecordsExpire(t *testing.T) {
	nodes := startNodes(t, 4, Options{Replicas: 3, ProvideInterval: 300 * time.Millisecond, ProviderTTL: 2 * time.Second})
	c, err := cid.Parse("bafkreia7ostie2ae55xeu6f7nkke774lmeigzqex7edxjfksgswxsbnx3a")
	if err != nil {
		t.Fatal(err)
	}
	seeder, student := nodes[3], nodes[1]
	seeder.Provide(c)
	providers := func() map[peer.ID]bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out := map[peer.ID]bool{}
		for ai := range student.FindProviders(ctx, c, 0) {
			out[ai.ID] = true
		}
		return out
	}
	waitFor(t, "the seeder found as a provider", 20*time.Second, func() bool { return providers()[seeder.h.ID()] })
	seeder.StopProviding(c)
	stopped := time.Now()
	waitFor(t, "the seeder's provider record gone", 20*time.Second, func() bool { return !providers()[seeder.h.ID()] })
	t.Logf("provider record gone %v after the last re-announcement stopped (TTL 2 s)", time.Since(stopped).Round(100*time.Millisecond))
}
