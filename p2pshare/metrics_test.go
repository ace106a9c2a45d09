package p2pshare

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves n's metrics over HTTP on loopback, at /metrics, as
// the examples' -metrics flag does, and returns the endpoint's URL.
func serveMetrics(t *testing.T, n *Swarm) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n.Metrics()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// scrapeSample GETs url and returns the value of the series key
// (name{labels}) in the exposition, failing the test if it is absent.
func scrapeSample(t *testing.T, url, key string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("%s: value %q: %v", key, rest, err)
			}
			return v
		}
	}
	t.Fatalf("%s is not in the exposition:\n%s", key, body)
	return 0
}

// TestPieceMetricsFastFetch fetches a 64-piece share as fast as loopback
// goes and scrapes the fetcher's /metrics: every piece counts, from the
// first, however quickly the fetch ends. The seeder, which opened the share
// whole, verified none.
func TestPieceMetricsFastFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	seed := testNode(t, nil, nil)
	src, _ := randomFile(t, dir, 64*16<<10)
	ih, err := seed.Share(ctx, src, ShareOptions{PieceSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	leech := testNode(t, seed, nil)
	url := serveMetrics(t, leech)
	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	share := `{share="` + ih.String() + `"}`
	for key, want := range map[string]float64{
		"p2pshare_pieces_verified_total" + share: 64,
		"p2pshare_pieces_failed_total" + share:   0,
	} {
		if got := scrapeSample(t, url, key); got != want {
			t.Errorf("fetcher: %s = %v, want %v", key, got, want)
		}
	}
	seedURL := serveMetrics(t, seed)
	if got := scrapeSample(t, seedURL, "p2pshare_pieces_verified_total"+share); got != 0 {
		t.Errorf("seeder: p2pshare_pieces_verified_total = %v, want 0: it received nothing", got)
	}
}

// TestPieceMetricsCountBans has a fetcher link at once to a member whose
// copy went bad and that serves it anyway, besides an honest seeder: the corrupt
// member's first piece fails verification and it is banned. /metrics then
// counts that one failed piece and all 64 verified ones.
func TestPieceMetricsCountBans(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	good := testNode(t, nil, func(c *Config) { c.UploadLimit = 1 << 20 })
	src, _ := randomFile(t, dir, 64*64<<10)
	ih, err := good.Share(ctx, src, ShareOptions{PieceSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	bad := testNode(t, good, nil)
	if ih2 := shareCorrupt(t, ctx, bad, src, 64<<10); ih2 != ih {
		t.Fatalf("the corrupt share is %v, want %v", ih2, ih)
	}
	leech := testNode(t, good, nil)
	url := serveMetrics(t, leech)
	d, err := leech.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, "out.bin")})
	if err != nil {
		t.Fatal(err)
	}
	se := leech.session(ih)
	leech.h.Peerstore().AddAddrs(bad.h.ID(), bad.h.Addrs(), time.Hour)
	if err := leech.reg.Connect(ctx, se, bad.h.ID()); err != nil {
		t.Fatalf("linking to the corrupt member: %v", err)
	}
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !se.Banned(bad.h.ID()) || se.Banned(good.h.ID()) {
		t.Fatalf("banned: corrupt member %v, honest seeder %v; want only the corrupt one",
			se.Banned(bad.h.ID()), se.Banned(good.h.ID()))
	}
	share := `{share="` + ih.String() + `"}`
	for key, want := range map[string]float64{
		"p2pshare_pieces_verified_total" + share: 64,
		"p2pshare_pieces_failed_total" + share:   1,
	} {
		if got := scrapeSample(t, url, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
}

// TestConnectionsOpenedCount: a member's join opens its connection to the
// bootstrap, and each reconnection after a cut is counted again, on both
// ends, by direction.
func TestConnectionsOpenedCount(t *testing.T) {
	boot := testNode(t, nil, nil)
	member := testNode(t, boot, nil)
	bootURL, memberURL := serveMetrics(t, boot), serveMetrics(t, member)
	const out, in = `p2pshare_connections_opened_total{direction="outbound"}`, `p2pshare_connections_opened_total{direction="inbound"}`
	out0, in0 := scrapeSample(t, memberURL, out), scrapeSample(t, bootURL, in)
	if out0 < 1 || in0 < 1 {
		t.Fatalf("after the join: member opened %g, bootstrap accepted %g; want at least 1 each", out0, in0)
	}
	for range 3 {
		_ = member.h.Network().ClosePeer(boot.h.ID())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := member.h.Connect(ctx, boot.h.Peerstore().PeerInfo(boot.h.ID()))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := scrapeSample(t, memberURL, out); got < out0+3 {
		t.Errorf("member opened %g connections, want at least %g (3 redials)", got, out0+3)
	}
	waitUntil(t, 10*time.Second, "the bootstrap to count the 3 redials", func() bool {
		return boot.opened.in.Load() >= int64(in0)+3
	})
}
