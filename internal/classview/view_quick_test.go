package classview

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestViewInvariants drives a view with random reports, silences, link
// losses and closed shares from a class of eight on two shares, and checks
// after every step what must hold of any snapshot.
func TestViewInvariants(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			v := New(Config{StallAfter: 3 * time.Second, GoneAfter: 2 * time.Second, MaxMembers: 6})
			now := time.Unix(1000, 0)
			const total = 1000
			v.Hold(now, "a", "a", total, now)
			v.Hold(now, "b", "b", total, now)
			held := map[string]int64{}
			for step := range 400 {
				now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
				id := fmt.Sprint("m", rng.IntN(8))
				share := []string{"a", "b"}[rng.IntN(2)]
				switch r := rng.IntN(20); {
				case r == 0:
					v.Disconnected(id)
				case r == 1:
					v.Observe(now, Member{ID: id, Name: id}, Report{}) // closed everything
				default:
					origin := id == "m0"
					k := id + share
					if origin {
						held[k] = total
					} else if rng.IntN(3) > 0 {
						held[k] = min(total, held[k]+rng.Int64N(300))
					}
					v.Observe(now, Member{ID: id, Name: id}, Report{UploadCap: rng.Int64N(3) * 100, DownloadCap: rng.Int64N(3) * 100,
						Shares: []ShareReport{{
							Share: share, Total: total, Bytes: held[k], Origin: origin, Complete: held[k] == total,
							UpRate: rng.Int64N(200), DownRate: rng.Int64N(200), Downloaded: held[k], AgeMillis: rng.Int64N(3000),
						}}})
				}
				for _, sh := range v.Shares() {
					check(t, step, v.Snapshot(now, sh))
				}
			}
		})
	}
}

func check(t *testing.T, step int, s Snapshot) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("step %d, share %s: %s\n%+v", step, s.Share, fmt.Sprintf(format, args...), s)
	}
	if len(s.Members) > 6 {
		fail("%d members past MaxMembers 6", len(s.Members))
	}
	receivers, done, byState := 0, 0, map[string]int{}
	for _, m := range s.Members {
		if m.Percent < 0 || m.Percent > 100 {
			fail("%s at %v %%", m.Name, m.Percent)
		}
		if m.Role == RoleSeeder {
			if m.State != StateSeeding && m.State != StateGone {
				fail("seeder %s is %s", m.Name, m.State)
			}
			continue
		}
		receivers++
		byState[m.State]++
		if m.Complete {
			done++
			if m.DoneAt < 0 || m.DoneAt > s.Elapsed {
				fail("%s done at %v, elapsed %v", m.Name, m.DoneAt, s.Elapsed)
			}
		}
		if m.State == StateDone && !m.Complete {
			fail("%s done but not complete", m.Name)
		}
	}
	switch {
	case receivers != s.Receivers || done != s.Done:
		fail("%d receivers, %d done; the summary says %d, %d", receivers, done, s.Receivers, s.Done)
	case byState[StateFetching] != s.Fetching || byState[StateStalled] != s.Stalled || byState[StateGone] != s.Gone:
		fail("states %v against the summary", byState)
	case s.Fetching+s.Stalled+s.Gone+byState[StateDone] != s.Receivers:
		fail("the states do not add up to the receivers")
	case s.TStar < 0 || s.OneServer < s.TStar:
		fail("T* %v, one server %v: one server can never beat T*", s.TStar, s.OneServer)
	case s.Finished == 0 && s.Projected > 0 && s.Projected < s.TStar:
		fail("projected %v before T* %v", s.Projected, s.TStar)
	case s.Finished > 0 && s.Done != s.Receivers:
		fail("finished with %d of %d done", s.Done, s.Receivers)
	}
}
