package swarm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStallWatch steps a stallWatch through a fetch's ticks: each step is
// the view at a time after the start, and what the watch must answer.
func TestStallWatch(t *testing.T) {
	type step struct {
		at      time.Duration
		v       stallView
		want    Waiting
		changed bool
		err     string // a part of the error's text; "" for no error
	}
	alone := stallView{pieces: 64, found: -1}
	banned := stallView{pieces: 64, have: 10, down: 10, banned: 1, found: 0}
	with := func(v stallView, f func(*stallView)) stallView { f(&v); return v }
	tests := []struct {
		name  string
		limit time.Duration
		held  int // pieces (and bytes) held when the watch begins
		steps []step
	}{
		{name: "data flows", limit: 3 * time.Second, steps: []step{
			{at: 2 * time.Second, v: with(alone, func(v *stallView) { v.down = 1 })},
			{at: 4 * time.Second, v: with(alone, func(v *stallView) { v.down = 2 })},
			{at: 6 * time.Second, v: with(alone, func(v *stallView) { v.down = 3 })},
		}},
		{name: "a verified piece is progress", limit: 3 * time.Second, steps: []step{
			{at: 2 * time.Second, v: with(alone, func(v *stallView) { v.have = 1 })},
			{at: 4 * time.Second, v: with(alone, func(v *stallView) { v.have = 2 })},
		}},
		{name: "nobody found, no limit", steps: []step{
			{at: time.Second, v: alone},
			{at: waitAfter, v: alone, want: WaitingNoHolder, changed: true},
			{at: time.Hour, v: alone, want: WaitingNoHolder},
		}},
		{name: "the only holder banned", limit: 2 * time.Second, held: 10, steps: []step{
			{at: 500 * time.Millisecond, v: banned},
			{at: time.Second, v: banned, want: WaitingHoldersBanned, changed: true},
			{at: 2 * time.Second, v: banned, want: WaitingHoldersBanned,
				err: "fetch stalled: no piece data for 2s, at 10 of 64 pieces: every holder banned: 1 holder found sent pieces that failed verification"},
		}},
		{name: "banned before any lookup", limit: time.Minute, held: 10, steps: []step{
			{at: waitAfter, v: with(banned, func(v *stallView) { v.found = -1 }), want: WaitingHoldersBanned, changed: true},
		}},
		{name: "one banned, another found unreachable", limit: time.Minute, held: 10, steps: []step{
			{at: waitAfter, v: with(banned, func(v *stallView) { v.found = 2 }), want: WaitingNoHolder, changed: true},
			{at: time.Minute, v: with(banned, func(v *stallView) { v.found = 2 }), want: WaitingNoHolder,
				err: "no holder reachable: the lookup found 2 holders, none could be linked"},
		}},
		{name: "linked peers hold nothing missing", limit: time.Minute, steps: []step{
			{at: time.Minute, v: with(alone, func(v *stallView) { v.linked = 3 }), want: WaitingNoHolder, changed: true,
				err: "no holder reachable: 3 linked peers hold none of the 64 missing pieces"},
		}},
		{name: "linked holders idle", limit: time.Minute, steps: []step{
			{at: waitAfter, v: with(alone, func(v *stallView) { v.linked, v.holders = 2, 2 }), want: WaitingHoldersIdle, changed: true},
			{at: time.Minute, v: with(alone, func(v *stallView) { v.linked, v.holders = 2, 2 }), want: WaitingHoldersIdle,
				err: "holders send nothing: 2 linked peers holding missing pieces sent none"},
		}},
		{name: "nobody found, limit", limit: 10 * time.Second, steps: []step{
			{at: 10 * time.Second, v: alone, want: WaitingNoHolder, changed: true,
				err: "no holder reachable: no member holding the 64 missing pieces was found"},
		}},
		{name: "data resumes", limit: time.Minute, held: 10, steps: []step{
			{at: waitAfter, v: banned, want: WaitingHoldersBanned, changed: true},
			{at: 50 * time.Second, v: with(banned, func(v *stallView) { v.down = 11 }), want: NotWaiting, changed: true},
			// The limit counts from the data, not from the start.
			{at: 100 * time.Second, v: with(banned, func(v *stallView) { v.down = 11 }), want: WaitingHoldersBanned, changed: true},
			{at: 110 * time.Second, v: with(banned, func(v *stallView) { v.down = 11 }), want: WaitingHoldersBanned, err: "no piece data for 1m0s"},
		}},
	}
	start := time.Unix(1_000_000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newStallWatch(start, tt.limit, int64(tt.held), tt.held)
			for _, s := range tt.steps {
				got, changed, err := w.observe(start.Add(s.at), s.v)
				if got != s.want || changed != s.changed {
					t.Fatalf("at %v: %v (changed %v), want %v (changed %v)", s.at, got, changed, s.want, s.changed)
				}
				switch {
				case s.err == "" && err != nil:
					t.Fatalf("at %v: error %v, want none", s.at, err)
				case s.err != "" && (!errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), s.err)):
					t.Fatalf("at %v: error %v, want ErrStalled saying %q", s.at, err, s.err)
				}
			}
		})
	}
}
