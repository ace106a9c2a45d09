package p2pshare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/classview"
	"github.com/p2pshare/p2pshare/internal/manifest"
)

// TestClassPageForgedStatus: a member (a real node, admitted with the
// class invite) sends the bootstrap forged status reports on its own
// authenticated streams: the class's share retitled, its size inflated,
// its start dated a day back, and over a thousand made-up infohashes to
// fill the view's share slots. The teacher's page keeps the name, size
// and start of the bootstrap's own share, and a share the teacher opens
// after the flood still gets its page.
func TestClassPageForgedStatus(t *testing.T) {
	const size = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher" })
	src, _ := randomFile(t, dir, size)
	opened := time.Now()
	ih, err := boot.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mallory := testNode(t, boot, func(c *Config) { c.Name = "mallory" })

	// Each report on its own stream: the bootstrap heeds one report per
	// stream per classMinReport, and this flood is faster.
	reports := []classview.Report{{Shares: []classview.ShareReport{{
		Share: ih.String(), Name: "DEFACED", Total: 1 << 50, Bytes: 1 << 50, AgeMillis: (24 * time.Hour).Milliseconds(),
	}}}}
	for i := 0; i < 1100; i += classview.MaxShares {
		var r classview.Report
		for j := i; j < i+classview.MaxShares; j++ {
			fake := manifest.InfohashOf(fmt.Appendf(nil, "fake share %d", j)).String()
			r.Shares = append(r.Shares, classview.ShareReport{Share: fake, Name: "DEFACED", Total: 1 << 50})
		}
		reports = append(reports, r)
	}
	before := boot.class.view.heeded.Load()
	for _, r := range reports {
		enc, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		st, err := mallory.h.NewStream(ctx, boot.h.ID(), statusProtocol)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeReportFrame(st, enc); err != nil {
			t.Fatal(err)
		}
		defer st.Close()
	}
	waitUntil(t, 20*time.Second, "the bootstrap read every forged report", func() bool {
		return boot.class.view.heeded.Load()-before >= uint64(len(reports))
	})

	snap, err := boot.Class(ih)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Name != "image.bin" || snap.Size != size {
		t.Errorf("the class page shows %q of %d bytes, want image.bin of %d", snap.Name, snap.Size, size)
	}
	if !snap.Started.IsZero() && snap.Started.Before(opened.Add(-time.Second)) {
		t.Errorf("the class started at %v, before the teacher shared the file (%v)", snap.Started, opened)
	}
	for _, m := range snap.Members {
		if m.Name == "mallory" && (m.Total != size || m.Bytes > size) {
			t.Errorf("mallory's line %+v: past the share's size", m)
		}
	}

	// A share the teacher opens now still has a page.
	src2 := filepath.Join(dir, "second.bin")
	if err := os.WriteFile(src2, []byte("the second lab's data"), 0o644); err != nil {
		t.Fatal(err)
	}
	ih2, err := boot.Share(ctx, src2, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := boot.WatchClass(ctx, ih2)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	waitClass(wctx, t, watch, "the second share's page with the teacher seeding it", func(s ClassSnapshot) bool {
		return s.Name == "second.bin" && states(s)["teacher"] == classview.StateSeeding
	})
}
