package coord

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// BenchmarkGroupAdmissions commits joins through a group of 1 and of 3
// coordinators, from concurrent clients spread over them, and reports
// admissions per second: the cost of replication against one bootstrap.
// (The group's part only: signing certificates and the admission
// protocol are the same either way.)
func BenchmarkGroupAdmissions(b *testing.B) {
	for _, size := range []int{1, 3} {
		b.Run(fmt.Sprintf("coordinators=%d", size), func(b *testing.B) {
			var nodes []*node
			if size == 3 {
				a, x, y := group3(b)
				nodes = []*node{a, x, y}
			} else {
				a := newNode(b, "a")
				a.open(b, true, nil)
				nodes = []*node{a}
			}
			peers := make([]peer.ID, b.N+1)
			for i := range peers {
				peers[i] = newPeer(b)
			}
			now := time.Now()
			tok := membership.TokenRecord{ID: fmt.Sprintf("%032x", size), Secret: make([]byte, 32), Role: membership.RoleStudent,
				Uses: b.N + 1, UsesLeft: b.N + 1, Expires: now.Add(time.Hour), Created: now}
			if _, err := nodes[0].g.Change(context.Background(), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					n := nodes[int(i)%len(nodes)]
					c := membership.Change{Op: membership.OpAdmit, At: now, Peer: peers[i], Name: fmt.Sprintf("s%d", i),
						Role: membership.RoleStudent, TokenID: tok.ID, Serial: fmt.Sprintf("%x", i), NotAfter: now.Add(time.Hour)}
					if _, err := n.g.Change(context.Background(), c); err != nil && !membership.IsRefusal(err) {
						b.Error(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "admissions/s")
		})
	}
}
