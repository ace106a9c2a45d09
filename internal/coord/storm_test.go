package coord

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestGroupLeaderLostMidStorm: 50 joins proposed at once through the three
// coordinators, and the leader stopped once a few have been committed.
// Every join either succeeds or fails with a clear error; asked again at
// a coordinator still up, each failed one is admitted. In the end every
// name is held once, by its own peer, and the token's uses left are its
// uses less the members it admitted: none counted twice.
func TestGroupLeaderLostMidStorm(t *testing.T) {
	a, b, c := group3(t)
	nodes := []*node{a, b, c}
	now := time.Now()
	tok := newToken(t, 60, now)
	if _, err := a.g.Change(ctxFor(t, waitBound), membership.Change{Op: membership.OpAddToken, At: now, Token: &tok}); err != nil {
		t.Fatal(err)
	}
	leader := leaderOf(t, nodes...)
	const joins = 50
	peers := make([]peer.ID, joins)
	changes := make([]membership.Change, joins)
	for i := range peers {
		peers[i] = newPeer(t)
		changes[i] = admit(peers[i], fmt.Sprintf("s%02d", i), tok.ID, now)
	}
	var (
		done    atomic.Int32
		stopped = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
		errs    = make([]error, joins)
	)
	// Ten newcomers at a time, each coordinator taking its share, so that
	// the leader stops with joins still to come.
	const workers = 10
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < joins; i += workers {
				_, errs[i] = nodes[i%3].g.Change(ctxFor(t, 8*time.Second), changes[i])
				if errs[i] == nil && done.Add(1) == 10 {
					once.Do(func() { leader.stop(t); close(stopped) })
				}
			}
		}()
	}
	wg.Wait()
	once.Do(func() { leader.stop(t); close(stopped) })
	var rest []*node
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrUncertain) {
			t.Errorf("join %d failed with an error that says neither closed, no majority nor uncertain: %v", i, err)
		}
		// The newcomer asks again, at a coordinator that is up.
		if _, err := rest[i%2].g.Change(ctxFor(t, waitBound), changes[i]); err != nil {
			t.Errorf("join %d asked again at %s: %v", i, rest[i%2].name, err)
		}
	}
	t.Logf("%d of %d joins failed when the leader stopped, and were asked again", failed, joins)
	converged(t, rest...)
	reg := rest[0].reg
	ms := reg.Members()
	if len(ms) != joins {
		t.Errorf("%d members, want %d", len(ms), joins)
	}
	names := map[string]peer.ID{}
	for _, m := range ms {
		if q, ok := names[m.Name]; ok {
			t.Errorf("name %q issued twice: to %s and %s", m.Name, q, m.Peer)
		}
		names[m.Name] = m.Peer
	}
	for i, p := range peers {
		if names[changes[i].Name] != p {
			t.Errorf("name %q is held by %s, want %s", changes[i].Name, names[changes[i].Name], p)
		}
	}
	if got, _ := reg.Token(tok.ID); got.UsesLeft != tok.Uses-joins {
		t.Errorf("the token has %d uses left after %d joins of its %d: a use was counted twice or lost", got.UsesLeft, joins, tok.Uses)
	}
}
