package browsertest_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium is where Debian's chromium package puts the browser;
// scripts/check installs it.
const chromium = "/usr/bin/chromium"

// pageState is what the test reads off the page.
type pageState struct {
	Done string       `json:"done"`
	Rows []pageMember `json:"rows"`
}

type pageMember struct {
	Name  string  `json:"name"`
	State string  `json:"state"`
	Pct   float64 `json:"pct"`
}

const readPage = `({
	done: document.getElementById("done").textContent,
	rows: [...document.querySelectorAll(".member")].map((r) => ({
		name: r.dataset.name, state: r.dataset.state,
		pct: parseFloat(r.querySelector(".pct").textContent),
	})),
})`

// TestClassPage runs a seeder with -http and five named leechers, each a
// process, and watches the class page in headless Chromium: five rows with
// their names appear, progress rises, all reach done and the summary reads
// 5/5. A sixth leecher, killed mid-way, turns gone. Screenshots are saved in
// $P2PSHARE_ARTIFACTS (or a temporary folder), and their paths logged.
func TestClassPage(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the browser test runs on Linux, with Debian's chromium")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no browser at %s (scripts/check installs Debian's chromium): %v", chromium, err)
	}
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src := randomFile(t, dir, 8<<20)
	seed := startPageSeeder(t, bin["seeder"], src, "-up", "4MiB")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+seed.HTTP+"/")); err != nil {
		t.Fatalf("opening the page: %v", err)
	}
	read := func() pageState {
		s, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](readPage))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return s
	}
	// until polls the page until ok accepts it.
	until := func(what string, ok func(pageState) bool) pageState {
		t.Helper()
		var s pageState
		for {
			if s = read(); ok(s) {
				return s
			}
			select {
			case <-ctx.Done():
				shot(t, bctx, "timeout")
				t.Fatalf("waiting for %s: %v; the page shows %+v", what, ctx.Err(), s)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}

	names := []string{"ana", "ben", "cy", "dee", "eli"}
	for _, n := range names {
		leech(t, bin["leecher"], seed, n, filepath.Join(dir, n+".bin"), "-up", "2MiB", "-down", "2MiB")
	}
	s := until("five named rows", func(s pageState) bool { return len(s.Rows) == 5 })
	for i, r := range s.Rows {
		if r.Name != names[i] {
			t.Errorf("row %d is %q, want %q (rows: %+v)", i, r.Name, names[i], s.Rows)
		}
	}
	// Progress rises: some member is seen part-way, then further along.
	var who string
	var from float64
	until("a member part-way", func(s pageState) bool {
		for _, r := range s.Rows {
			if r.Pct > 0 && r.Pct < 100 {
				who, from = r.Name, r.Pct
				return true
			}
		}
		return false
	})
	shot(t, bctx, "fetching")
	until(who+" further along", func(s pageState) bool {
		for _, r := range s.Rows {
			if r.Name == who && r.Pct > from {
				return true
			}
		}
		return false
	})
	s = until("all done", func(s pageState) bool {
		for _, r := range s.Rows {
			if r.State != "done" || r.Pct != 100 {
				return false
			}
		}
		return len(s.Rows) == 5
	})
	if s.Done != "5/5" {
		t.Errorf("summary reads %q, want 5/5", s.Done)
	}
	shot(t, bctx, "done")

	// A sixth student, slow, is killed mid-way: its row turns gone (or
	// stalled first), while the five stay done.
	late := leech(t, bin["leecher"], seed, "fay", filepath.Join(dir, "fay.bin"), "-down", "256KiB")
	until("fay part-way", func(s pageState) bool {
		for _, r := range s.Rows {
			if r.Name == "fay" && r.Pct > 0 && r.Pct < 100 {
				return true
			}
		}
		return false
	})
	late.kill()
	s = until("fay gone", func(s pageState) bool {
		for _, r := range s.Rows {
			if r.Name == "fay" && (r.State == "gone" || r.State == "stalled") {
				return true
			}
		}
		return false
	})
	if s.Done != "5/6" {
		t.Errorf("summary reads %q after fay left part-way, want 5/6", s.Done)
	}
	shot(t, bctx, "killed")

	// The same page on a phone: one column, nothing cut off sideways.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	until("the page redrawn for a phone", func(pageState) bool {
		narrow, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector("#chart svg").viewBox.baseVal.width < 400`))
		return err == nil && narrow
	})
	if wide, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || wide {
		t.Errorf("on a phone the page scrolls sideways (%v)", err)
	}
	shot(t, bctx, "phone")
}

// shot saves a screenshot of the page as a test artifact.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := os.Getenv("P2PSHARE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "classpage-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
