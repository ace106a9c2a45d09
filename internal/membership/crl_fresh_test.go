package membership

import (
	"testing"
	"time"
)

// TestCRLGoesStaleAndIsRefreshed: a member holds the bootstrap's CRL;
// past its NextUpdate the member sees it is stale. The bootstrap signs the
// same list again once less than half its validity is left, linked members
// take the refresh over gossip, and it is current again.
func TestCRLGoesStaleAndIsRefreshed(t *testing.T) {
	tn := newTestNet(t, nil)
	a, x := tn.member("alice"), tn.member("x")
	link(t, a, tn.bn)
	_ = x
	t0 := tn.clock.Now()
	if err := tn.boot.Revoke("x"); err != nil {
		t.Fatal(err)
	}
	a.ev.until(t, "alice to hold CRL 1", func() bool { return a.m.CRLNumber() == 1 })
	if _, stale := a.m.CRLStale(t0.Add(time.Hour)); stale {
		t.Fatal("a CRL signed an hour ago is stale")
	}
	since, stale := a.m.CRLStale(t0.Add(CRLValidity + time.Hour))
	if !stale || since.Before(t0) || since.After(t0.Add(CRLValidity+time.Minute)) {
		t.Fatalf("CRLStale a validity and an hour on: %v since %v, want stale since about %v", stale, since, t0.Add(CRLValidity))
	}

	if refreshed, err := tn.boot.RefreshCRL(); err != nil || refreshed {
		t.Fatalf("RefreshCRL with most of the validity left: %v, %v; want nothing signed", refreshed, err)
	}
	tn.clock.Advance(CRLValidity/2 + time.Hour)
	if refreshed, err := tn.boot.RefreshCRL(); err != nil || !refreshed {
		t.Fatalf("RefreshCRL past half the validity: %v, %v; want a refresh", refreshed, err)
	}
	a.ev.until(t, "alice to take the refresh", func() bool {
		_, stale := a.m.CRLStale(t0.Add(CRLValidity + time.Hour))
		return !stale
	})
	if n := a.m.CRLNumber(); n != 1 {
		t.Errorf("CRL number %d after a refresh, want 1 still", n)
	}
}
