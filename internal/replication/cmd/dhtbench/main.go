// Command dhtbench runs many kad-dht nodes in one process on go-libp2p's
// in-memory network and reports lookup success, rounds and latency with a
// share of the nodes dead.
//
//	go run ./internal/replication/cmd/dhtbench -n 1000 -lookups 200
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"slices"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/replication"
	"github.com/p2pshare/p2pshare/internal/replication/meshtest"
)

type anyValue struct{}

func (anyValue) Validate(string, []byte) error        { return nil }
func (anyValue) Select(string, [][]byte) (int, error) { return 0, nil }

func main() {
	n := flag.Int("n", 1000, "nodes")
	lookups := flag.Int("lookups", 200, "lookups per phase")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewSource(*seed))

	net := meshtest.New("bench", anyValue{}, dht.DisableAutoRefresh())
	defer net.Close()
	start := time.Now()
	nodes, err := net.Add(*n)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := meshtest.JoinAll(ctx, nodes, nodes[0], 32); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d nodes joined in %v\n", *n, time.Since(start).Round(time.Millisecond))

	killed := 0
	for _, dead := range []float64{0, 0.2, 0.5} {
		perm := rng.Perm(*n)
		for _, i := range perm {
			if killed >= int(dead*float64(*n)) {
				break
			}
			if !net.Nodes[i].Dead {
				net.Kill(net.Nodes[i])
				killed++
			}
		}
		phase(ctx, net, rng, dead, *lookups)
	}
}

func phase(ctx context.Context, net *meshtest.Net, rng *rand.Rand, dead float64, lookups int) {
	live := net.Live()
	var ids []peer.ID
	for _, nd := range live {
		ids = append(ids, nd.Host.ID())
	}
	ok, overlap := 0, 0
	var rounds []int
	var durs []time.Duration
	for i := range lookups {
		key := fmt.Sprintf("/bench/%d-%d", rng.Int63(), i)
		from := live[rng.Intn(len(live))]
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		found, ls, err := replication.Lookup(lctx, from.DHT, key, 20, time.Now)
		cancel()
		truth := replication.Closest(key, ids, 20)
		if err == nil && slices.Contains(append(found, from.Host.ID()), truth[0]) {
			ok++
		}
		for _, p := range found {
			if slices.Contains(truth, p) {
				overlap++
			}
		}
		rounds = append(rounds, ls.Rounds)
		durs = append(durs, ls.Duration)
	}
	slices.Sort(rounds)
	slices.Sort(durs)
	fmt.Printf("dead %2.0f%% (%d live): success %d/%d = %.1f%%  median rounds %d (p90 %d)  latency median %v p90 %v  mean overlap with true 20 closest %.1f\n",
		100*dead, len(live), ok, lookups, 100*float64(ok)/float64(lookups), rounds[len(rounds)/2], rounds[len(rounds)*9/10],
		durs[len(durs)/2].Round(time.Microsecond), durs[len(durs)*9/10].Round(time.Microsecond), float64(overlap)/float64(lookups))
}
