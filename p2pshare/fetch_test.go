package p2pshare

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/wire"
)

func writeTree(t *testing.T, root string, files map[string][]byte, dirs ...string) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree lists every file (with contents) and folder under root.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fetchAndCompareTree fetches ih to out and checks the fetched tree holds
// exactly the files and folders of src, with the same contents.
func fetchAndCompareTree(ctx context.Context, t *testing.T, n *Swarm, ih Infohash, src, out string) {
	t.Helper()
	d, err := n.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	want, got := readTree(t, src), readTree(t, out)
	if len(want) != len(got) {
		t.Errorf("fetched tree has %d entries, source %d", len(got), len(want))
	}
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s missing from the fetched tree", p)
		} else if g != w {
			t.Errorf("%s differs", p)
		}
	}
}

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestFolderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "lab")
	writeTree(t, src, map[string][]byte{
		"README.txt":            []byte("lab 4: networks"),
		"disk/image.qcow2":      rnd(3<<20 + 12345),
		"disk/parts/a/b/c.bin":  rnd(700 << 10),
		"empty.txt":             nil,
		"notes/week1/intro.md":  []byte("# intro"),
		"notes/week1/zero.data": nil,
	}, "results", "notes/week2/empty")
	seed := testNode(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, seed, nil)
	out := filepath.Join(dir, "fetched")
	fetchAndCompareTree(ctx, t, leech, ih, src, out)
	for _, leftover := range []string{out + ".p2pshare-part", out + ".p2pshare-state"} {
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after completion (err %v)", leftover, err)
		}
	}
}

// TestCorruptPeerIsBanned runs a member whose copy went bad and that
// serves it anyway: its pieces fail verification. The fetcher must ban it
// and still end with the right bytes from the honest seeder. The honest
// seeder is slow enough (4 s for the share) that the fetcher, which reaches
// it first, also looks for providers and meets the corrupt one.
func TestCorruptPeerIsBanned(t *testing.T) {
	dir := t.TempDir()
	good := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	src, want := randomFile(t, dir, 4<<20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ih, err := good.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	bad := testNode(t, good, nil)
	if ih2 := shareCorrupt(t, ctx, bad, src, 64<<10); ih2 != ih {
		t.Fatalf("the corrupt share is %v, want %v", ih2, ih)
	}
	leech := testNode(t, good, nil)
	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	banned := make(chan string, 4)
	go func() {
		for e := range d.Events() {
			if e.Kind == EventPeerBanned {
				banned <- e.Peer.String()
			}
		}
	}()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(d.Path())
	if !bytes.Equal(got, want) {
		t.Fatal("fetched content differs from the source")
	}
	select {
	case p := <-banned:
		if p != bad.ID().String() {
			t.Fatalf("banned %s, want the corrupt peer %s", p, bad.ID())
		}
	default:
		if !leech.session(ih).Banned(bad.h.ID()) {
			t.Fatal("the corrupt peer was never banned")
		}
	}
	if leech.session(ih).Banned(good.h.ID()) {
		t.Fatal("the honest seeder was banned")
	}
}

// TestEscapingManifestRefused: a member serves a manifest whose path leaves
// the destination. Fetch must refuse it, say why, and write nothing.
func TestEscapingManifestRefused(t *testing.T) {
	m := &manifest.Manifest{Name: "evil", PieceSize: 16 << 10,
		Entries: []manifest.Entry{{Path: "aa/x", Size: 1}}, Pieces: make([]manifest.Hash, 1)}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	evilBytes := bytes.Replace(enc, []byte("aa/x"), []byte("../x"), 1)
	ih := manifest.InfohashOf(evilBytes)

	seed := testNode(t, nil, nil)
	evil := testNode(t, seed, nil)
	// The evil member answers manifest requests with the crafted bytes and
	// announces itself as the share's provider.
	evil.h.SetStreamHandler(wire.ManifestProtocol, func(s network.Stream) {
		defer s.Close()
		if _, err := wire.ReadManifestRequest(s); err == nil {
			_ = wire.WriteManifestResponse(s, evilBytes)
		}
	})
	evil.dht.Provide(ih)

	leech := testNode(t, seed, nil)
	outDir := t.TempDir()
	fctx, fcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer fcancel()
	_, err = leech.Fetch(fctx, ih, FetchOptions{Out: filepath.Join(outDir, "sub", "out")})
	if err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `".."`) {
		t.Fatalf("Fetch of an escaping manifest: %v, want a refusal naming the path", err)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Fatalf("Fetch wrote %d entries for a refused manifest", len(entries))
	}
}

// TestReaderAndResume reads the content in order while it arrives, stops
// the fetch part-way (its only seeder gone), and resumes it from what is on
// disk through a new seeder.
func TestReaderAndResume(t *testing.T) {
	dir := t.TempDir()
	capped := func(c *Config) { c.UploadLimit = 2 << 20 }
	seed := testNode(t, nil, capped)
	src, want := randomFile(t, dir, 8<<20)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	leech := testNode(t, seed, nil)
	fctx, stop := context.WithCancel(ctx)
	d, err := leech.Fetch(fctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	// Read the first quarter through the in-order reader; then the only
	// seeder leaves and the fetch is stopped.
	quarter := make([]byte, len(want)/4)
	if _, err := io.ReadFull(d.Reader(ctx), quarter); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(quarter, want[:len(quarter)]) {
		t.Fatal("reader returned bytes that differ from the source")
	}
	t.Logf("after reading a quarter: %+v", d.Progress())
	seed.Close()
	stop()
	if err := d.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v, want context.Canceled", err)
	}
	held := d.Progress().Pieces
	if held == 0 || held == d.Progress().TotalPieces {
		t.Fatalf("stopped with %d of %d pieces; the test wants a partial fetch", held, d.Progress().TotalPieces)
	}
	leech.Close()
	// A new seeder and a fresh node fetching to the same path: the fetch
	// resumes from what was synced.
	seed2 := testNode(t, nil, nil)
	if ih2, err := seed2.Share(ctx, src, ShareOptions{PieceSize: 64 << 10}); err != nil || ih2 != ih {
		t.Fatalf("re-share: %v %v", ih2, err)
	}
	leech2 := testNode(t, seed2, nil)
	d2, err := leech2.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if p := d2.Progress(); p.Pieces == 0 {
		t.Errorf("resumed fetch starts with no pieces; %d were held before", held)
	}
	all, err := io.ReadAll(d2.Reader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(all, want) || !bytes.Equal(got, want) {
		t.Fatal("resumed content differs from the source")
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"", "not-a-cid", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
		"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"} {
		if _, err := ParseInfohash(s); err == nil {
			t.Errorf("ParseInfohash(%q) = nil error", s)
		}
	}
	cfgs := map[string]Config{
		"ListenAddrs":    {ListenAddrs: []ma.Multiaddr{nil}},
		"BootstrapPeers": {BootstrapPeers: []peer.AddrInfo{{Addrs: loopback()}}},
		"UploadLimit":    {UploadLimit: -1},
	}
	for field, c := range cfgs {
		_, err := New(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New with a bad %s: %v, want an error naming it", field, err)
		}
	}
	seed := testNode(t, nil, nil)
	ctx := context.Background()
	if _, err := seed.Share(ctx, filepath.Join(t.TempDir(), "missing"), ShareOptions{}); err == nil {
		t.Error("Share of a missing path: nil error")
	}
	src, _ := randomFile(t, t.TempDir(), 1000)
	ih, err := seed.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, seed, nil)
	if _, err := leech.Fetch(ctx, ih, FetchOptions{Out: src}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Fetch onto an existing file: %v, want a refusal", err)
	}
}
