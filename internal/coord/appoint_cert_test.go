package coord

import (
	"errors"
	"testing"
	"time"
)

// TestReappointedWithNewSerial: a coordinator's certificate renewed, and
// appointed again with the new serial at a follower, is known by that
// serial to every coordinator, with the date of its first appointment and
// its vote unchanged; an appointment naming no serial in hex is refused.
func TestReappointedWithNewSerial(t *testing.T) {
	a, b, c := group3(t)
	l := leaderOf(t, a, b, c)
	at := a
	if at == l {
		at = b
	}
	var since time.Time
	for _, co := range at.g.Coordinators() {
		if co.Peer == c.id() {
			since = co.Since
		}
	}
	end := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Second)
	if err := at.g.AppointCert(ctxFor(t, waitBound), Coordinator{Peer: c.id(), Name: "c", Serial: "a1b2c", NotAfter: end}); err != nil {
		t.Fatalf("appointing c again at %s: %v", at.name, err)
	}
	converged(t, a, b, c)
	for _, n := range []*node{a, b, c} {
		var got *Coordinator
		for _, co := range n.g.Coordinators() {
			if co.Peer == c.id() {
				got = &co
			}
		}
		if got == nil || got.Serial != "a1b2c" || !got.NotAfter.Equal(end) || !got.Since.Equal(since) {
			t.Errorf("%s knows c as %+v, want serial a1b2c ending %v, appointed %v", n.name, got, end, since)
		}
		if len(n.g.Voters()) != 3 {
			t.Errorf("%s: %d voters after a renewal, want 3", n.name, len(n.g.Voters()))
		}
	}
	if err := at.g.AppointCert(ctxFor(t, waitBound), Coordinator{Peer: c.id(), Name: "c", Serial: "not hex"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("an appointment with serial %q: got %v, want ErrMalformed", "not hex", err)
	}
	if _, err := decodeCommand([]byte(`{"op":"appoint","coordinator":{"peer":"` + c.id().String() + `","name":"c","since":"2026-01-01T00:00:00Z","serial":"zz"}}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a logged appointment with serial zz: got %v, want ErrMalformed", err)
	}
}
