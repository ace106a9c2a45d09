package p2pshare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/p2pshare/p2pshare/internal/classview"
	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// waitClass reads snapshots from w until ok accepts one, or fails the test
// when ctx ends, showing the last snapshot.
func waitClass(ctx context.Context, t *testing.T, w <-chan ClassSnapshot, what string, ok func(ClassSnapshot) bool) ClassSnapshot {
	t.Helper()
	var last ClassSnapshot
	for {
		select {
		case s, open := <-w:
			if !open {
				t.Fatalf("waiting for %s: the watch channel closed; last snapshot %+v", what, last)
			}
			if last = s; ok(s) {
				return s
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last snapshot %+v", what, ctx.Err(), last)
		}
	}
}

func states(s ClassSnapshot) map[string]string {
	out := map[string]string{}
	for _, m := range s.Members {
		out[m.Name] = m.State
	}
	return out
}

// TestClassStatus runs a teacher and three students on loopback: the
// teacher's view shows each by name, fetching and then done, with T* from
// their caps; a student whose node closes turns gone.
func TestClassStatus(t *testing.T) {
	const size = 4 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.UploadLimit = 4 << 20 })
	src, _ := randomFile(t, dir, size)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := boot.WatchClass(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"ana", "ben", "cy"}
	nodes := map[string]*Swarm{}
	for _, n := range names {
		nodes[n] = testNode(t, boot, func(c *Config) {
			c.Name = n
			c.UploadLimit, c.DownloadLimit = 1<<20, 2<<20
		})
		if _, err := nodes[n].Class(ih); !errors.Is(err, errNotBootstrap) {
			t.Errorf("a member's Class: %v, want %v", err, errNotBootstrap)
		}
	}
	for _, n := range names {
		if _, err := nodes[n].Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, n+".bin")}); err != nil {
			t.Fatal(err)
		}
	}
	s := waitClass(ctx, t, watch, "three receivers reporting", func(s ClassSnapshot) bool { return s.Receivers == 3 })
	if st := states(s); st["teacher"] != classview.StateSeeding {
		t.Errorf("states %v: want the teacher seeding", st)
	}
	// F = 4 MiB, U_s = 4 MiB/s, U_i = 1 MiB/s, D = 2 MiB/s:
	// T* = max(1, 2, 12/7) = 2 s; one server: max(3, 2) = 3 s.
	if s.TStar != 2 || s.Term != "download" || s.OneServer != 3 || s.Name != "image.bin" || s.Size != size {
		t.Errorf("snapshot %+v: want T* 2 s (download), one server 3 s, image.bin of %d bytes", s, size)
	}
	s = waitClass(ctx, t, watch, "all three done", func(s ClassSnapshot) bool { return s.Done == 3 })
	for _, m := range s.Members {
		if m.Role == classview.RoleReceiver && (m.State != classview.StateDone || m.Percent != 100 || !m.Complete) {
			t.Errorf("member %+v: want done, 100 %%, a completion time", m)
		}
	}
	if s.Finished <= 0 || s.SeederUploadRatio < 1 || s.BytesMoved < 3*size {
		t.Errorf("snapshot %+v: want a finish time, the seeder's upload at least the size, 3 sizes moved", s)
	}

	checkMetrics(t, boot, ih, map[string]float64{
		`p2pshare_admissions_total{result="accepted"}`:                        3,
		`p2pshare_admissions_total{result="refused"}`:                         0,
		`p2pshare_class_members{share="` + ih.String() + `",state="done"}`:    3,
		`p2pshare_class_members{share="` + ih.String() + `",state="seeding"}`: 1,
		`p2pshare_size_bytes{share="` + ih.String() + `"}`:                    size,
	})
	checkMetrics(t, nodes["ana"], ih, map[string]float64{
		`p2pshare_held_bytes{share="` + ih.String() + `"}`:             size,
		`p2pshare_downloaded_bytes_total{share="` + ih.String() + `"}`: size,
	})

	nodes["cy"].Close()
	s = waitClass(ctx, t, watch, "cy gone", func(s ClassSnapshot) bool { return states(s)["cy"] == classview.StateGone })
	if s.Done != 3 || s.Gone != 1 {
		t.Errorf("snapshot %+v: cy finished before it left, so 3 done, 1 gone", s)
	}
	if got, err := boot.Class(ih); err != nil || got.Receivers != 3 {
		t.Errorf("Class: %+v, %v; want 3 receivers", got, err)
	}
}

// TestStatusFrameLimit checks that a frame longer than the limit is refused
// by its length, before anything is read or allocated for it.
func TestStatusFrameLimit(t *testing.T) {
	var b bytes.Buffer
	if err := writeReportFrame(&b, make([]byte, classview.MaxReportSize+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := readReportFrame(bufio.NewReader(&b)); !errors.Is(err, classview.ErrMessageTooLarge) {
		t.Errorf("readReportFrame: %v, want %v", err, classview.ErrMessageTooLarge)
	}
	r := classview.Report{Shares: []classview.ShareReport{{Share: "x", Name: "n", Total: 1}}}
	enc, _ := r.Encode()
	b.Reset()
	_ = writeReportFrame(&b, enc)
	got, err := readReportFrame(bufio.NewReader(&b))
	if err != nil || !bytes.Equal(got, enc) {
		t.Errorf("readReportFrame: %x, %v; want %x", got, err, enc)
	}
	if s := clean("ab\xffc", 3); s != "ab" {
		t.Errorf("clean: %q, want %q", s, "ab")
	}
}

// checkMetrics gathers n's metrics, lints them, and checks the values want
// names (as name{labels}); a downloaded-bytes value is a floor, since a
// node may receive a piece twice in endgame.
func checkMetrics(t *testing.T, n *Swarm, ih Infohash, want map[string]float64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(n.Metrics()); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				got[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || g != v && !(strings.HasPrefix(k, "p2pshare_downloaded_bytes_total") && g >= v) {
			t.Errorf("metric %s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
}

// TestClassStatusMembersOnly has a host with no certificate send the
// bootstrap a well-formed status report: its stream is reset unread and the
// class does not show it.
func TestClassStatusMembersOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	boot := testNode(t, nil, nil)
	src, _ := randomFile(t, t.TempDir(), 1<<20)
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := crypto.GenerateEd25519Key(nil)
	bare, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if err := bare.Connect(ctx, peer.AddrInfo{ID: boot.h.ID(), Addrs: boot.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	r := classview.Report{Shares: []classview.ShareReport{{Share: ih.String(), Name: "x", Bytes: 1, Total: 1 << 20, DownRate: 1}}}
	enc, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	st, err := bare.NewStream(ctx, boot.h.ID(), statusProtocol)
	if err == nil {
		_ = st.SetDeadline(time.Now().Add(30 * time.Second))
		_ = writeReportFrame(st, enc)
		if _, err = st.Read(make([]byte, 1)); err == nil {
			t.Fatal("the bootstrap answered an outsider on the status protocol")
		}
	}
	snap, err := boot.Class(ih)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range snap.Members {
		if m.ID == bare.ID().String() {
			t.Fatalf("the class shows an outsider: %+v", m)
		}
	}
}
