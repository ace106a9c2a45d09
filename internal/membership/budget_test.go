package membership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	lphost "github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/host"
)

// TestOutsiderHoldsOnlyItsBudget is the attack of a peer that connects to
// a member and never proves membership: it opens connections and streams
// and waits. The member's exchange deadline is an hour here, so only the
// outsiders' budget can cut it off.
func TestOutsiderHoldsOnlyItsBudget(t *testing.T) {
	tn := newTestNet(t, nil)
	long := func(c *Config) { c.Deadline = time.Hour }

	t.Run("cut off after the outsider deadline", func(t *testing.T) {
		victim := tn.memberWith("victim-idle", long) // OutsiderDeadline stays 2 s
		h := plainHost(t, newKey(t))
		connect(t, h, victim)
		victim.ev.until(t, "the victim to drop the idle outsider", func() bool {
			return victim.ev.dropped(h.ID()) != nil && !victim.connected(h.ID())
		})
		if err := victim.ev.dropped(h.ID()); !errors.Is(err, ErrNoCredential) {
			t.Errorf("dropped with %v, want %v", err, ErrNoCredential)
		}
	})

	t.Run("few streams wait", func(t *testing.T) {
		victim := tn.memberWith("victim-streams", func(c *Config) {
			long(c)
			c.OutsiderDeadline = time.Hour
		})
		serveSecret(victim)
		h := plainHost(t, newKey(t))
		connect(t, h, victim)
		const opened = 20
		var reset atomic.Int64
		done := make(chan struct{}, opened)
		for range opened {
			go func() {
				defer func() { done <- struct{}{} }()
				s, err := h.NewStream(context.Background(), victim.id, echoProtocol)
				if err != nil {
					reset.Add(1)
					return
				}
				defer s.Reset()
				if _, err := io.ReadAll(s); err != nil {
					reset.Add(1)
				}
			}()
		}
		want := int64(opened - DefaultOutsiderStreams)
		poll(t, "the streams beyond the budget to be refused", func() bool { return reset.Load() >= want })
		if !victim.connected(h.ID()) {
			t.Fatal("the outsider was cut off: the test cannot tell refused streams from a cut")
		}
		victim.m.mu.Lock()
		waiting := 0
		if o := victim.m.budget.outsiders[h.ID()]; o != nil {
			waiting = o.waiting
		}
		victim.m.mu.Unlock()
		if waiting > DefaultOutsiderStreams || reset.Load() != want {
			t.Errorf("%d streams waiting and %d refused, want at most %d waiting and %d refused", waiting, reset.Load(), DefaultOutsiderStreams, want)
		}
		_ = h.Network().ClosePeer(victim.id)
		for range opened - int(reset.Load()) {
			<-done
		}
	})

	t.Run("few connections per address", func(t *testing.T) {
		const perIP = 4
		victim := tn.memberWith("victim-conns", func(c *Config) {
			long(c)
			c.OutsiderDeadline = time.Hour
			c.OutsidersPerIP = perIP
		})
		hosts := make([]lphost.Host, 3*perIP)
		for i := range hosts {
			hosts[i] = plainHost(t, newKey(t))
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			_ = hosts[i].Connect(ctx, info(victim.h)) // may be cut as soon as it is made
			cancel()
		}
		victim.ev.until(t, "the victim to keep only its budget of outsiders", func() bool {
			n := 0
			for _, h := range hosts {
				if victim.connected(h.ID()) {
					n++
				}
			}
			return n == perIP
		})
		// An outsider from another address has a budget of its own.
		other, err := host.New(host.Options{Key: newKey(t), ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.2/tcp/0")}, MaxPeers: 64})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := other.Connect(ctx, info(victim.h)); err != nil {
			t.Fatal(err)
		}
		victim.ev.until(t, "the victim to count the outsider from 127.0.0.2", func() bool {
			victim.m.mu.Lock()
			defer victim.m.mu.Unlock()
			return victim.m.budget.ips["127.0.0.2"] == 1
		})
		if !victim.connected(other.ID()) {
			t.Error("the outsider from another address was cut off")
		}
	})
}

// poll waits for cond, checking it every 10 ms, for at most waitBound.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitBound, what)
		}
		<-tick.C
	}
}

// connect connects h to n or fails the test.
func connect(t *testing.T, h lphost.Host, n *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := h.Connect(ctx, info(n.h)); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetDecisions(t *testing.T) {
	a, b := peer.ID("a"), peer.ID("b")
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		run  func(bu *budget) (got, want any)
	}{
		{"a third connection from one address is over", func(bu *budget) (any, any) {
			return []bool{bu.connect(a, "1", "10.0.0.1"), bu.connect(b, "2", "10.0.0.1"), bu.connect(b, "3", "10.0.0.1")},
				[]bool{true, true, false}
		}},
		{"another address has its own", func(bu *budget) (any, any) {
			bu.connect(a, "1", "10.0.0.1")
			bu.connect(a, "2", "10.0.0.1")
			return bu.connect(b, "3", "10.0.0.2"), true
		}},
		{"a member or a newcomer asking frees its places", func(bu *budget) (any, any) {
			bu.connect(a, "1", "10.0.0.1")
			bu.connect(a, "2", "10.0.0.1")
			bu.release(a)
			return []any{bu.connect(b, "3", "10.0.0.1"), len(bu.ips), len(bu.outsiders)}, []any{true, 1, 1}
		}},
		{"one that came over its address's budget may ask once that has room", func(bu *budget) (any, any) {
			bu.connect(a, "1", "10.0.0.1")
			bu.connect(a, "2", "10.0.0.1")
			bu.connect(b, "3", "10.0.0.1")
			before := bu.overNow(b)
			bu.release(a) // a asked for admission
			// b now holds one of its address's places, until it asks too.
			after := bu.overNow(b)
			held := bu.ips["10.0.0.1"]
			return []any{before, after, held, bu.connect(a, "4", "10.0.0.1"), bu.connect(a, "5", "10.0.0.1")},
				[]any{true, false, 1, true, false}
		}},
		{"a disconnect frees its place", func(bu *budget) (any, any) {
			bu.connect(a, "1", "10.0.0.1")
			bu.connect(a, "2", "10.0.0.1")
			bu.disconnect(a, "1")
			bu.disconnect(a, "2")
			return []any{len(bu.ips), len(bu.outsiders)}, []any{0, 0}
		}},
		{"started is kept while connected", func(bu *budget) (any, any) {
			bu.connect(a, "1", "10.0.0.1")
			bu.start(a)
			return []bool{bu.startedOn(a), bu.startedOn(b)}, []bool{true, false}
		}},
		{"three streams may wait, not four", func(bu *budget) (any, any) {
			got := []bool{bu.park(a), bu.park(a), bu.park(a), bu.park(a)}
			bu.unpark(a)
			return append(got, bu.park(a)), []bool{true, true, true, false, true}
		}},
		{"opens past the burst are refused, then blocked", func(bu *budget) (any, any) {
			var got [][2]bool
			for range 4 {
				ok, block := bu.open(a, t0)
				got = append(got, [2]bool{ok, block})
			}
			return got, [][2]bool{{true, false}, {true, false}, {false, false}, {false, false}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bu := newBudget(2, 3, 1, 2)
			got, want := tc.run(&bu)
			if !equalAny(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	t.Run("blocked once the refusals run out too", func(t *testing.T) {
		bu := newBudget(2, 3, 1, 2)
		blocked := false
		for range 5 {
			_, blocked = bu.open(a, t0)
		}
		if !blocked {
			t.Error("a peer that opened 5 streams at once, with a burst of 2 and 2 refusals, is not blocked")
		}
	})
}

func TestFailuresPerAddress(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := newFailures(1, 2)
	f.fail("10.0.0.1", t0)
	f.fail("10.0.0.1", t0)
	if _, ok := f.allow("10.0.0.2", t0); !ok {
		t.Error("another address is refused")
	}
	wait, ok := f.allow("10.0.0.1", t0)
	if ok || wait != time.Second {
		t.Errorf("after 2 failures with a burst of 2: allowed %v, wait %v; want refused for 1s", ok, wait)
	}
	if _, ok := f.allow("10.0.0.1", t0.Add(time.Second)); !ok {
		t.Error("refused a second later, at one a second")
	}
}

func equalAny(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestLateMemberNotBlocked is a member whose certificate reaches a
// classmate after the outsiders' deadline (a full upload queue ahead of
// it, a busy machine): the classmate cuts that connection, but must not
// shut the member out, or every later dial of the member would be refused
// after a wasted handshake for BlockFor.
func TestLateMemberNotBlocked(t *testing.T) {
	tn := newTestNet(t, nil)
	victim := tn.memberWith("victim", func(c *Config) { c.OutsiderDeadline = 200 * time.Millisecond })
	k := newKey(t)
	creds, err := joinWith(t, k, tn.invite(InviteOptions{}), "late", RoleStudent)
	if err != nil {
		t.Fatal(err)
	}
	// The member's first connection sends no certificate at all: a host
	// with its key but no exchange attached.
	silent := plainHost(t, k)
	connect(t, silent, victim)
	victim.ev.until(t, "the victim to cut the silent connection", func() bool {
		return victim.ev.dropped(silent.ID()) != nil && !victim.connected(silent.ID())
	})
	if err := victim.ev.dropped(silent.ID()); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("dropped with %v, want %v", err, ErrNoCredential)
	}
	_ = silent.Close()
	if victim.m.Blocked(silent.ID()) {
		t.Fatal("the victim blocked a peer whose certificate was only late")
	}
	late := newNode(t, "late", k, creds, nil)
	link(t, late, victim)
}

// TestDialledMemberHasTheWholeDeadline: a member that this node dialled
// answers with its certificate later than the outsiders' deadline (its
// clock starts a round trip after the dialler's; through full upload
// queues that is seconds). It is admitted, not cut.
func TestDialledMemberHasTheWholeDeadline(t *testing.T) {
	tn := newTestNet(t, nil)
	const outsider = 200 * time.Millisecond
	dialler := tn.memberWith("dialler", func(c *Config) { c.OutsiderDeadline, c.Deadline = outsider, time.Minute })
	k := newKey(t)
	creds, err := joinWith(t, k, tn.invite(InviteOptions{}), "late", RoleStudent)
	if err != nil {
		t.Fatal(err)
	}
	late, present := presenter(t, k, dialler, creds.Cert)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := dialler.h.Connect(ctx, info(late)); err != nil {
		t.Fatal(err)
	}
	// The scenario, not a synchronisation: the certificate is this late.
	time.Sleep(3 * outsider)
	if err := dialler.ev.dropped(late.ID()); err != nil {
		t.Fatalf("the dialler cut a member it dialled before its certificate came: %v", err)
	}
	present()
	dialler.ev.until(t, "the dialler to admit the late member", func() bool { return dialler.m.IsMember(late.ID()) })
}
