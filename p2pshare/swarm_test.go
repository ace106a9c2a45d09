package p2pshare

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// testNode starts a node on loopback. With boot (a network's bootstrap
// node) it joins that network with a fresh invite; without, it starts one.
func testNode(t testing.TB, boot *Swarm, mod func(*Config)) *Swarm {
	t.Helper()
	cfg := Config{ListenAddrs: loopback(), ProvideInterval: 2 * time.Second}
	if boot != nil {
		inv, err := boot.Invite(InviteOptions{})
		if err != nil {
			t.Fatalf("Invite: %v", err)
		}
		cfg.Invite = inv
	}
	if mod != nil {
		mod(&cfg)
	}
	// With no bootstrap to join, the node starts a network of its own,
	// unless mod gave it a way into one.
	cfg.NewNetwork = boot == nil && cfg.Invite == "" && len(cfg.BootstrapPeers) == 0
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomFile(t testing.TB, dir string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, "image.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestClassFetchesFromEachOther(t *testing.T) {
	const leechers = 10
	const size = 32 << 20
	dir := t.TempDir()
	// The seeder's cap makes the class trade: uncapped on loopback it is
	// as fast a source as any student, and how much it sends depends on
	// how the machine schedules the class.
	seed := testNode(t, nil, func(c *Config) { c.UploadLimit = 16 << 20 })
	src, want := randomFile(t, dir, size)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ih, err := seed.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatalf("Share: %v", err)
	}
	nodes := make([]*Swarm, leechers)
	for i := range nodes {
		nodes[i] = testNode(t, seed, nil)
	}
	downloads := make([]*Download, leechers)
	sources := make([]map[string]bool, leechers)
	evDone := make([]chan struct{}, leechers)
	done := make(chan int, leechers)
	for i, n := range nodes {
		i, n := i, n
		go func() {
			d, err := n.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out", n.ID().String())})
			if err != nil {
				t.Errorf("leecher %d: Fetch: %v", i, err)
				done <- i
				return
			}
			downloads[i] = d
			sources[i] = map[string]bool{}
			evDone[i] = make(chan struct{})
			ev := d.Events()
			go func() {
				defer close(evDone[i])
				for e := range ev {
					if e.Kind == EventPiece {
						sources[i][e.Peer.String()] = true
					}
				}
			}()
			if err := d.Wait(ctx); err != nil {
				t.Errorf("leecher %d: Wait: %v", i, err)
			}
			done <- i
		}()
	}
	for range nodes {
		<-done
	}
	if t.Failed() {
		return
	}
	var seedUp int64
	for i, d := range downloads {
		got, err := os.ReadFile(d.Path())
		if err != nil {
			t.Fatalf("leecher %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("leecher %d: content differs from the source", i)
		}
	}
	for i, n := range nodes {
		// Close ends the event streams; then sources is safe to read.
		n.Close()
		<-evDone[i]
		if len(sources[i]) < 2 {
			t.Errorf("leecher %d got pieces from %d peer(s), want more than 1", i, len(sources[i]))
		}
	}
	if se := seed.session(ih); se != nil {
		seedUp = se.Progress().Uploaded
	}
	t.Logf("seeder uploaded %.2f x the file", float64(seedUp)/size)
	if seedUp >= 3*size {
		t.Errorf("seeder uploaded %d bytes, %.1f x the file: want under 3x", seedUp, float64(seedUp)/size)
	}
}

func TestFetchUnknownInfohash(t *testing.T) {
	seed := testNode(t, nil, nil)
	leech := testNode(t, seed, nil)
	ih, err := ParseInfohash("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(t.TempDir(), "x")})
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch of an unknown share: %v, want ErrNotFound and the deadline", err)
	}
}

// loopback is a node's listen address in tests: 127.0.0.1, any port.
func loopback() []ma.Multiaddr { return []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")} }
