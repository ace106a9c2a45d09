package replication

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/replication/meshtest"
)

const testNS = "rt"

// cluster is a meshtest.Net with a Replicator on every node.
type cluster struct {
	*meshtest.Net
	reps map[*meshtest.Node]*Replicator
	k    int

	tmu    sync.Mutex
	traces []Trace
}

func (c *cluster) record(tr Trace) {
	c.tmu.Lock()
	c.traces = append(c.traces, tr)
	c.tmu.Unlock()
}

// explainStrays logs, for up to n copies missing from a key's k closest or
// held outside them, the moves that concern that key and node, in order.
func (c *cluster) explainStrays(t *testing.T, keys []string, n int) {
	h := c.holders(t)
	ids := c.liveIDs()
	c.tmu.Lock()
	defer c.tmu.Unlock()
	moves := func(key string, p peer.ID) string {
		rank := Closest(key, ids, len(ids))
		s := ""
		for _, tr := range c.traces {
			if tr.Key == key && (tr.From == p || tr.To == p) {
				s += fmt.Sprintf(" [%s %s->%s]", tr.Op, tr.From.ShortString(), tr.To.ShortString())
				for _, q := range tr.Closer {
					s += fmt.Sprintf(" %s:%d", q.ShortString(), slices.Index(rank, q))
				}
			}
		}
		return s
	}
	for _, key := range keys {
		closest := Closest(key, ids, c.k)
		for _, p := range closest {
			if !h[key][p] && n > 0 {
				n--
				t.Logf("missing %s on %s (rank %d):%s", key, p.ShortString(), slices.Index(closest, p), moves(key, p))
			}
		}
		for p := range h[key] {
			if !slices.Contains(closest, p) && n > 0 {
				n--
				t.Logf("stray %s on %s:%s", key, p.ShortString(), moves(key, p))
			}
		}
	}
}

func newCluster(t *testing.T, n, k int) *cluster {
	t.Helper()
	v := Validator{Inner: hashless{}, Now: time.Now}
	c := &cluster{Net: meshtest.New(testNS, v, dht.BucketSize(k)), reps: map[*meshtest.Node]*Replicator{}, k: k}
	t.Cleanup(func() {
		for _, r := range c.reps {
			_ = r.Close()
		}
		c.Close()
	})
	c.add(t, n)
	return c
}

// add starts n nodes, joins them through node 0 and gives each a Replicator
// whose rounds and newcomer polls the test drives, so that "one interval"
// is exactly one poll and one round on every node.
func (c *cluster) add(t *testing.T, n int) []*meshtest.Node {
	t.Helper()
	nodes, err := c.Add(n)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := meshtest.JoinAll(ctx, nodes, c.Nodes[0], 16); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nodes {
		r, err := New(nd.DHT, Config{Namespace: testNS, Store: nd.Store, K: c.k, Interval: time.Hour, PollInterval: time.Hour, Timeout: 60 * time.Second, Parallel: 2, Trace: c.record})
		if err != nil {
			t.Fatal(err)
		}
		r.Start()
		c.reps[nd] = r
	}
	return nodes
}

// round runs one republish round on every live node at once.
func (c *cluster) round(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, nd := range c.Live() {
		wg.Go(func() {
			if err := c.reps[nd].Republish(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// holders maps each key to the live nodes holding it.
func (c *cluster) holders(t *testing.T) map[string]map[peer.ID]bool {
	out := map[string]map[peer.ID]bool{}
	for _, nd := range c.Live() {
		recs, err := held(context.Background(), nd.Store, testNS)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			k := string(r.GetKey())
			if out[k] == nil {
				out[k] = map[peer.ID]bool{}
			}
			out[k][nd.Host.ID()] = true
		}
	}
	return out
}

func (c *cluster) liveIDs() []peer.ID {
	var ids []peer.ID
	for _, nd := range c.Live() {
		ids = append(ids, nd.Host.ID())
	}
	return ids
}

// coverage returns, per key, how many of its current k closest live nodes
// hold it, and how many holders are outside them.
func (c *cluster) coverage(t *testing.T, keys []string) (onClosest map[int]int, strays int) {
	h := c.holders(t)
	ids := c.liveIDs()
	onClosest = map[int]int{}
	for _, key := range keys {
		truth := Closest(key, ids, c.k)
		n := 0
		for _, p := range truth {
			if h[key][p] {
				n++
			}
		}
		onClosest[n]++
		strays += len(h[key]) - n
	}
	return onClosest, strays
}

func dist(m map[int]int) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	s := ""
	for _, k := range ks {
		s += fmt.Sprintf(" %d:%d", k, m[k])
	}
	return s
}

// TestChurnAndJoin is the script: nodes store keys, 30% die
// abruptly, one round restores k-1 replicas; then newcomers join, are handed
// their keys, and after one round every key sits on exactly its k closest.
func TestChurnAndJoin(t *testing.T) {
	// The scale (100 nodes, 500 keys, k=20) runs with
	// REPLICATION_FULL=1.
	n, nkeys, joiners, k := 40, 120, 12, 8
	switch {
	case os.Getenv("REPLICATION_FULL") != "" && !raceEnabled:
		n, nkeys, joiners, k = 100, 500, 30, 20
	case raceEnabled: // the race detector slows every lookup several times
		n, nkeys, joiners, k = 24, 60, 8, 6
	}
	rng := rand.New(rand.NewSource(1))
	c := newCluster(t, n, k)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	keys := make([]string, nkeys)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range keys {
		keys[i] = fmt.Sprintf("/%s/key-%d", testNS, i)
		nd := c.Nodes[rng.Intn(n)]
		v := Envelope{Version: 1, Expiry: time.Now().Add(time.Hour), Payload: []byte(keys[i])}.Seal()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := nd.DHT.PutValue(ctx, keys[i], v); err != nil {
				t.Errorf("put %s: %v", keys[i], err)
			}
		})
	}
	wg.Wait()
	before, _ := c.coverage(t, keys)
	t.Logf("after put: keys by replicas on their %d closest:%s", k, dist(before))

	// (a) 30% die abruptly.
	for _, i := range rng.Perm(n)[:n*3/10] {
		if i != 0 {
			c.Kill(c.Nodes[i])
		}
	}
	lost, _ := c.coverage(t, keys)
	t.Logf("after killing %d: keys by replicas on their current %d closest live:%s", n-len(c.Live()), k, dist(lost))
	start := time.Now()
	c.round(t)
	after, strays := c.coverage(t, keys)
	t.Logf("after one round (%v): replicas on current %d closest:%s; holders outside them: %d", time.Since(start).Round(time.Millisecond), k, dist(after), strays)
	for got, cnt := range after {
		if got < k-1 {
			t.Errorf("%d keys on only %d of their %d closest live nodes", cnt, got, k)
		}
	}
	live := c.Live()
	for i, key := range keys {
		nd := live[rng.Intn(len(live))]
		v, err := nd.DHT.GetValue(ctx, key, dht.Quorum(1))
		if e, oerr := Open(v); err != nil || oerr != nil || string(e.Payload) != key {
			t.Errorf("key %d not retrievable from %s: %v", i, nd.Host.ID(), err)
		}
	}
	c.logStats(t, "churn")

	// (b) newcomers join; holders hand them their keys, then one round.
	newcomers := c.add(t, joiners)
	for _, nd := range c.Live() {
		c.reps[nd].PollNewcomers(ctx)
	}
	handed, strays := c.coverage(t, keys)
	t.Logf("%d joined; after hand-off: replicas on current %d closest:%s; holders outside them: %d", joiners, k, dist(handed), strays)
	c.round(t)
	final, strays := c.coverage(t, keys)
	t.Logf("after one round: replicas on current %d closest:%s; holders outside them: %d", k, dist(final), strays)
	if final[k] != len(keys) {
		t.Errorf("only %d of %d keys on all their %d closest nodes", final[k], len(keys), k)
	}
	if final[k] != len(keys) || strays != 0 {
		c.explainStrays(t, keys, 8)
	}
	if strays != 0 {
		t.Errorf("%d copies left on nodes no longer responsible", strays)
	}
	c.logStats(t, "join")

	// (c) each newcomer's buckets against an oracle with full membership.
	ids := c.liveIDs()
	worst := 1.0
	for _, nd := range newcomers {
		self := nd.Host.ID()
		want, got := map[int]bool{}, map[int]bool{}
		for _, p := range ids {
			if p != self {
				want[BucketIndex(self, p)] = true
			}
		}
		for _, p := range nd.DHT.RoutingTable().ListPeers() {
			got[BucketIndex(self, p)] = true
		}
		hit := 0
		for b := range want {
			if got[b] {
				hit++
			}
		}
		worst = min(worst, float64(hit)/float64(len(want)))
	}
	t.Logf("newcomer buckets: worst %.0f%% of the oracle's non-empty buckets", 100*worst)
	if worst < 0.9 {
		t.Errorf("a newcomer has only %.0f%% of the oracle's non-empty buckets", 100*worst)
	}
}

func (c *cluster) logStats(t *testing.T, phase string) {
	var s Stats
	var rounds []int
	var durs []time.Duration
	for _, nd := range c.Live() {
		x := c.reps[nd].Stats()
		s.Add(x)
		rounds = append(rounds, x.KeysHeld)
		durs = append(durs, x.MaxLookupTime)
	}
	slices.Sort(rounds)
	slices.Sort(durs)
	mean := func(d time.Duration) time.Duration { return d / time.Duration(max(s.Lookups, 1)) }
	t.Logf("%s totals: republishes %d, hand-offs %d, drops %d, failures %d; lookups %d, mean rounds %.2f, mean %v, max %v; keys held per node min/median/max %d/%d/%d",
		phase, s.Republishes, s.HandOffs, s.Drops, s.Failures, s.Lookups, float64(s.LookupRounds)/float64(max(s.Lookups, 1)),
		mean(s.LookupTime), durs[len(durs)-1], rounds[0], rounds[len(rounds)/2], rounds[len(rounds)-1])
}
