package swarm

import (
	"testing"
	"time"
)

func TestLinkTarget(t *testing.T) {
	for _, c := range []struct{ pieces, maxLinks, want int }{
		{1, 60, 6},
		{64, 60, 6},   // a 2 MiB quiz
		{80, 60, 8},   // one more for every eight pieces
		{512, 60, 60}, // a 128 MiB image: maxLinks
		{2048, 60, 60},
		{2048, 100, 100},
		{64, 2, 2}, // maxLinks below the floor wins
	} {
		if got := LinkTarget(c.pieces, c.maxLinks); got != c.want {
			t.Errorf("LinkTarget(%d, %d) = %d, want %d", c.pieces, c.maxLinks, got, c.want)
		}
	}
}

func TestSyncDue(t *testing.T) {
	for _, c := range []struct {
		since time.Duration
		size  int64
		want  bool
	}{
		{600 * time.Millisecond, 128 << 20, true},
		{syncInterval, syncMinShare, true},
		{100 * time.Millisecond, 128 << 20, false}, // synced lately
		{600 * time.Millisecond, 2 << 20, false},   // a quiz: never before it completes
		{time.Hour, syncMinShare - 1, false},
	} {
		if got := syncDue(c.since, c.size); got != c.want {
			t.Errorf("syncDue(%v, %d) = %v, want %v", c.since, c.size, got, c.want)
		}
	}
}
