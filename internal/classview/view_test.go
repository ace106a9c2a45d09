package classview

import (
	"fmt"
	"math"
	"testing"
	"time"
)

const ih = "bafkreishare"

// class drives a View on a virtual clock, the way the bootstrap does.
type class struct {
	t   *testing.T
	v   *View
	now time.Time
}

func newClass(t *testing.T) *class {
	c := &class{t: t, v: New(Config{StallAfter: 10 * time.Second, GoneAfter: 5 * time.Second}), now: time.Unix(1_000_000, 0)}
	c.v.Hold(c.now, ih, "lab4", 1000, c.now)
	return c
}

func (c *class) after(d time.Duration) { c.now = c.now.Add(d) }

// report has member name say it holds bytes of 1000 at downRate.
func (c *class) report(name string, bytes, downRate int64, flags ...string) {
	sr := ShareReport{Share: ih, Name: "lab4", Bytes: bytes, Total: 1000, DownRate: downRate, Downloaded: bytes}
	for _, f := range flags {
		switch f {
		case "origin":
			sr.Origin, sr.Complete, sr.Downloaded, sr.Uploaded = true, true, 0, 2000
		case "stopped":
			sr.Stopped, sr.Err = true, "disk full"
		}
	}
	sr.Complete = sr.Complete || bytes == 1000
	c.v.Observe(c.now, Member{ID: "id-" + name, Name: name}, Report{UploadCap: 100, DownloadCap: 200, Shares: []ShareReport{sr}})
}

// expect checks every member's state by name, and the done count.
func (c *class) expect(step string, done int, states map[string]string) Snapshot {
	c.t.Helper()
	s := c.v.Snapshot(c.now, ih)
	got := map[string]string{}
	for _, m := range s.Members {
		got[m.Name] = m.State
	}
	if len(got) != len(states) || s.Done != done {
		c.t.Fatalf("%s: states %v, done %d; want %v, done %d", step, got, s.Done, states, done)
	}
	for n, want := range states {
		if got[n] != want {
			c.t.Errorf("%s: %s is %q, want %q", step, n, got[n], want)
		}
	}
	return s
}

func TestViewScript(t *testing.T) {
	c := newClass(t)
	c.report("teacher", 1000, 0, "origin")
	s := c.expect("the teacher shares", 0, map[string]string{"teacher": StateSeeding})
	if s.Receivers != 0 || !s.Started.IsZero() || s.TStar != 0 {
		t.Errorf("no receivers yet: %+v", s)
	}

	c.after(time.Second)
	c.report("ana", 0, 0)
	c.report("ben", 0, 0)
	c.report("cy", 0, 0)
	c.v.Hold(c.now, "other", "other", 1, c.now.Add(-time.Hour))
	c.v.Observe(c.now, Member{ID: "id-dan", Name: "dan"}, Report{Shares: []ShareReport{{Share: "other", Total: 1, AgeMillis: 1500}}})
	if s := c.v.Snapshot(c.now, "other"); !s.Started.Equal(c.now.Add(-1500 * time.Millisecond)) {
		t.Errorf("started %v, want 1.5 s before dan's first report (%v)", s.Started, c.now)
	}
	c.expect("three join", 0, map[string]string{"teacher": StateSeeding, "ana": StateFetching, "ben": StateFetching, "cy": StateFetching})

	for range 4 {
		c.after(time.Second)
		c.report("teacher", 1000, 0, "origin")
		c.report("ana", 500, 250)
		c.report("ben", 250, 100)
		c.report("cy", 0, 0) // gets nothing
	}
	s = c.expect("4 s in", 0, map[string]string{"teacher": StateSeeding, "ana": StateFetching, "ben": StateFetching, "cy": StateFetching})
	// F=1000, U_s=100, U_i=100 each, D=200: T* = max(10, 5, 3000/400) = 10 s.
	if s.TStar != 10 || s.Term != "seeder" || s.OneServer != 30 || s.Elapsed != 4 {
		t.Errorf("bound %+v, elapsed %v; want T* 10 (seeder), one server 30, elapsed 4", s.Bound, s.Elapsed)
	}
	if s.Projected != 0 {
		t.Errorf("projected %v with a member at rate 0, want unknown (0)", s.Projected)
	}

	for range 7 {
		c.after(time.Second)
		c.report("teacher", 1000, 0, "origin")
		c.report("ana", 1000, 250)
		c.report("ben", 500, 100)
		c.report("cy", 0, 0)
	}
	s = c.expect("ana done, cy stuck past StallAfter", 1, map[string]string{"teacher": StateSeeding, "ana": StateDone, "ben": StateFetching, "cy": StateStalled})
	if s.Stalled != 1 || s.Fetching != 1 || s.Members[0].Name != "ana" || s.Members[0].DoneAt != 5 {
		t.Errorf("snapshot %+v: want 1 stalled, 1 fetching, ana first and done at 5 s", s)
	}
	if s.Members[len(s.Members)-1].Role != RoleSeeder || s.SeederUploadRatio != 2 || s.BytesMoved != 1500 {
		t.Errorf("snapshot %+v: want the seeder last, its upload 2x the size, 1500 bytes moved", s)
	}

	c.after(time.Second)
	c.report("teacher", 1000, 0, "origin")
	c.report("ana", 1000, 0)
	c.report("ben", 600, 100)
	c.report("cy", 100, 50) // moving again
	s = c.expect("cy recovers", 1, map[string]string{"teacher": StateSeeding, "ana": StateDone, "ben": StateFetching, "cy": StateFetching})
	// ben: 400 left at 100/s, cy: 900 at 50/s; elapsed 12 s.
	if math.Abs(s.Projected-(12+18)) > 1e-9 {
		t.Errorf("projected %v, want 30", s.Projected)
	}

	c.v.Disconnected("id-ben")
	c.after(time.Second)
	c.report("teacher", 1000, 0, "origin")
	c.report("cy", 150, 50, "stopped")
	c.expect("ben's link drops, cy's fetch fails", 1, map[string]string{"teacher": StateSeeding, "ana": StateDone, "ben": StateGone, "cy": StateGone})

	c.after(time.Second)
	c.report("ben", 1000, 100) // back, and finished
	// cy left unfinished: T* is for ana and ben now, max(10, 5, 2000/300).
	if s := c.v.Snapshot(c.now, ih); s.TStar != 10 || s.OneServer != 20 {
		t.Errorf("bound %+v without cy, want T* 10, one server 20", s.Bound)
	}
	s = c.expect("ben is back", 2, map[string]string{"teacher": StateSeeding, "ana": StateDone, "ben": StateDone, "cy": StateGone})
	if s.Gone != 1 || s.Receivers != 3 {
		t.Errorf("snapshot %+v: want 1 gone of 3 receivers", s)
	}

	c.after(5*time.Second + 1)
	c.report("teacher", 1000, 0, "origin")
	c.report("ben", 1000, 0)
	s = c.expect("ana silent past GoneAfter", 2, map[string]string{"teacher": StateSeeding, "ana": StateGone, "ben": StateDone, "cy": StateGone})
	if s.Finished != 0 {
		t.Errorf("finished %v with cy not done, want 0", s.Finished)
	}
	for _, m := range s.Members {
		if m.Name == "cy" && m.Error != "disk full" {
			t.Errorf("cy's error %q, want the one it reported", m.Error)
		}
	}
}

func TestViewClosedShareIsGone(t *testing.T) {
	c := newClass(t)
	c.report("ana", 10, 5)
	c.after(time.Second)
	c.v.Observe(c.now, Member{ID: "id-ana", Name: "ana"}, Report{}) // closed it
	c.expect("closed", 0, map[string]string{"ana": StateGone})
}

func TestViewAllDone(t *testing.T) {
	c := newClass(t)
	c.report("teacher", 1000, 0, "origin")
	c.report("ana", 0, 0)
	c.after(3 * time.Second)
	c.report("ana", 1000, 400)
	c.after(time.Hour) // long after: the record stays
	c.report("teacher", 1000, 0, "origin")
	c.report("ana", 1000, 0)
	s := c.expect("done", 1, map[string]string{"teacher": StateSeeding, "ana": StateDone})
	if s.Finished != 3 || s.Projected != 3 {
		t.Errorf("finished %v, projected %v; want both 3 s", s.Finished, s.Projected)
	}
}

func TestViewMaxMembers(t *testing.T) {
	v := New(Config{MaxMembers: 2, MaxShares: 1})
	now := time.Unix(0, 0)
	v.Hold(now, ih, "x", 1, now)
	v.Hold(now, "another", "y", 1, now) // past MaxShares
	for _, n := range []string{"a", "b", "c"} {
		v.Observe(now, Member{ID: n, Name: n}, Report{Shares: []ShareReport{{Share: ih, Total: 1}}})
	}
	if got := len(v.Snapshot(now, ih).Members); got != 2 {
		t.Errorf("%d members tracked, want the limit, 2", got)
	}
	v.Observe(now, Member{ID: "a", Name: "a"}, Report{Shares: []ShareReport{{Share: ih, Total: 1}, {Share: "another", Total: 1}}})
	if got := v.Shares(); len(got) != 1 || got[0] != ih {
		t.Errorf("Shares() = %v", got)
	}
}

// TestViewForgedReports: a member reports the share held under another
// name and size, dates its start a day back, and reports shares nobody
// holds: the view keeps the held name, size and start, and no other share.
func TestViewForgedReports(t *testing.T) {
	c := newClass(t)
	opened := c.now
	c.after(time.Minute)
	c.report("ana", 100, 10)
	forged := []ShareReport{{Share: ih, Name: "DEFACED", Total: 1 << 40, Bytes: 1 << 40, AgeMillis: maxAge.Milliseconds()}}
	for i := range MaxShares - 1 {
		forged = append(forged, ShareReport{Share: fmt.Sprint("fake-", i), Name: "DEFACED", Total: 1})
	}
	c.v.Observe(c.now, Member{ID: "id-mallory", Name: "mallory"}, Report{Shares: forged})
	s := c.v.Snapshot(c.now, ih)
	if s.Name != "lab4" || s.Size != 1000 || !s.Started.Equal(opened) {
		t.Errorf("snapshot %+v: want lab4 of 1000 bytes, started when the bootstrap opened it (%v)", s, opened)
	}
	for _, m := range s.Members {
		if m.Name == "mallory" && (m.Total != 1000 || m.Bytes != 1000) {
			t.Errorf("mallory's line %+v: bytes and total past the share's size", m)
		}
	}
	if got := c.v.Shares(); len(got) != 1 || got[0] != ih {
		t.Errorf("Shares() = %v, want the held one alone", got)
	}
}

// TestViewForgetsSharesNoLongerHeld: a share the bootstrap stopped holding
// is dropped ForgetAfter later, with its members; one still held stays.
func TestViewForgetsSharesNoLongerHeld(t *testing.T) {
	v := New(Config{ForgetAfter: time.Minute})
	now := time.Unix(0, 0)
	v.Hold(now, "old", "a", 1, now)
	v.Hold(now, "kept", "b", 1, now)
	v.Observe(now, Member{ID: "m", Name: "m"}, Report{Shares: []ShareReport{{Share: "old", Total: 1}, {Share: "kept", Total: 1}}})
	for range 2 {
		now = now.Add(40 * time.Second)
		v.Hold(now, "kept", "b", 1, time.Unix(0, 0))
		v.Expire(now)
	}
	if got := v.Shares(); len(got) != 1 || got[0] != "kept" {
		t.Fatalf("Shares() = %v, want kept alone", got)
	}
	if s := v.Snapshot(now, "old"); len(s.Members) != 0 {
		t.Errorf("a forgotten share still has members: %+v", s)
	}
}
