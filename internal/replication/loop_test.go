package replication

import (
	"context"
	"testing"
	"time"
)

// TestLoopExpires runs the Replicator's own ticker: a record past its
// envelope's expiry is gone after the next round, and the counters say so.
func TestLoopExpires(t *testing.T) {
	c := newCluster(t, 6, 4)
	nd := c.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp := time.Now().Add(2 * time.Second)
	v := Envelope{Version: 1, Expiry: exp, Payload: []byte("x")}.Seal()
	if err := nd.DHT.PutValue(ctx, "/rt/short", v); err != nil {
		t.Fatal(err)
	}
	r, err := New(nd.DHT, Config{Namespace: testNS, Store: nd.Store, K: 4, Interval: 50 * time.Millisecond,
		Now: func() time.Time { return exp }}) // the clock says it has expired
	if err != nil {
		t.Fatal(err)
	}
	done := r.RoundDone()
	r.Start()
	defer r.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("no round ran")
	}
	<-r.RoundDone() // a round that started after the put for certain
	if s := r.Stats(); s.Expired != 1 || s.KeysHeld != 0 {
		t.Fatalf("stats %+v, want 1 expired and 0 held", s)
	}
}
