package nfqdelay

import (
	"testing"
)

func TestParseQueueStats(t *testing.T) {
	// As net/netfilter/nfnetlink_queue.c prints them: queue, port ID,
	// held, copy mode, copy range, dropped, user dropped, ID sequence, 1.
	const two = "    0 2871061     3 1     0     5     2    91822  1\n    7 123  0 2 65531 0 0 0 1\n"
	tests := []struct {
		name  string
		in    string
		queue uint16
		want  queueStats
		ok    bool
		err   string
	}{
		{name: "queue 0", in: two, queue: 0, want: queueStats{Dropped: 5, UserDropped: 2, Sequence: 91822}, ok: true},
		{name: "queue 7", in: two, queue: 7, ok: true},
		{name: "not listed", in: two, queue: 1},
		{name: "none bound", in: "", queue: 0},
		{name: "short line", in: "0 1 2 3\n", queue: 0, err: "/proc/net/netfilter/nfnetlink_queue: queue 0 has 4 fields, want at least 8"},
		{name: "not a number", in: "0 1 2 3 4 x 6 7 1\n", queue: 0, err: `/proc/net/netfilter/nfnetlink_queue: queue 0 field 6: strconv.ParseUint: parsing "x": invalid syntax`},
		{name: "bad queue number", in: "q 1 2 3 4 5 6 7 1\n", queue: 0, err: `/proc/net/netfilter/nfnetlink_queue: queue number "q": strconv.ParseUint: parsing "q": invalid syntax`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseQueueStats([]byte(tt.in), tt.queue)
			if errString(err) != tt.err || ok != tt.ok || got != tt.want {
				t.Errorf("parseQueueStats = %+v, %v, %v; want %+v, %v, %q", got, ok, err, tt.want, tt.ok, tt.err)
			}
		})
	}
}

func FuzzParseQueueStats(f *testing.F) {
	f.Add([]byte("    0 2871061     3 1     0     5     2    91822  1\n"))
	f.Add([]byte("0 1 2 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok, err := parseQueueStats(b, 0)
		if err != nil && (ok || s != queueStats{}) {
			t.Fatalf("an error with stats: %+v, %v, %v", s, ok, err)
		}
	})
}
