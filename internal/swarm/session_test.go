package swarm

import (
	"testing"
	"time"
)

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
