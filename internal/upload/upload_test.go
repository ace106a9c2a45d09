package upload

import (
	"slices"
	"testing"
)

// serve drains q, returning the peers in the order they were served.
func serve(q *Queue) []Request {
	var out []Request
	for {
		r, ok := q.Next()
		if !ok {
			return out
		}
		out = append(out, r)
	}
}

func TestQueueRoundRobin(t *testing.T) {
	q := NewQueue(4)
	for _, r := range []Request{{"a", 1}, {"a", 2}, {"b", 3}, {"a", 4}, {"c", 5}} {
		if err := q.Add(r.Peer, r.Piece); err != nil {
			t.Fatal(err)
		}
	}
	want := []Request{{"a", 1}, {"b", 3}, {"c", 5}, {"a", 2}, {"a", 4}}
	if got := serve(q); !slices.Equal(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after draining", q.Len())
	}
}

func TestQueueCapAndCancel(t *testing.T) {
	q := NewQueue(2)
	if err := q.Add("a", 1); err != nil {
		t.Fatal(err)
	}
	if err := q.Add("a", 2); err != nil {
		t.Fatal(err)
	}
	if err := q.Add("a", 3); err == nil {
		t.Fatal("a third request of a peer with two queued was accepted")
	}
	if !q.Cancel("a", 1) || q.Cancel("a", 1) {
		t.Fatal("Cancel did not report the request queued exactly once")
	}
	if err := q.Add("b", 7); err != nil {
		t.Fatal(err)
	}
	q.RemovePeer("a")
	if got, want := serve(q), []Request{{"b", 7}}; !slices.Equal(got, want) {
		t.Fatalf("served %v, want %v", got, want)
	}
}
