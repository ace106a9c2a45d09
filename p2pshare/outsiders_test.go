package p2pshare

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/time/rate"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestBadAdmissionFloodDoesNotShutOutAStudent is the attack: from one
// address (127.0.0.2), a fresh peer ID every 5 ms (20 ms under the race
// detector) asks the bootstrap for
// admission with a token it does not have, and keeps its connection open
// for as long as the bootstrap lets it. Meanwhile a student joins from
// another address (127.0.0.3) with a real invite: it is admitted. The
// bootstrap serves a class of 100 (MaxPeers), so the flood's connections,
// were they all kept, would fill it.
func TestBadAdmissionFloodDoesNotShutOutAStudent(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of 200 attempts a second")
	}
	boot := testNode(t, nil, func(c *Config) { c.MaxPeers = 100 })
	real, err := boot.Invite(InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := membership.ParseInvite(real)
	if err != nil {
		t.Fatal(err)
	}
	rand.Read(bad.TokenID[:]) // a token the bootstrap never issued
	rand.Read(bad.Secret[:])

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fctx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var attempts, refused atomic.Int64
	defer func() { stopFlood(); wg.Wait() }()
	// The flood's own handshakes run in this process: under the race
	// detector, which slows each several times, 200 a second would starve
	// the whole test, bootstrap and student alike, of CPU on two cores.
	perSecond := rate.Limit(200)
	if raceEnabled {
		perSecond = 50
	}
	pace := rate.NewLimiter(perSecond, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for pace.Wait(fctx) == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				attempts.Add(1)
				if badAttempt(fctx, t, bad) {
					refused.Add(1)
				}
			}()
		}
	}()
	// The flood is on before the student comes.
	waitUntil(t, time.Minute, "the first 200 bad attempts", func() bool { return attempts.Load() >= 200 })

	student := testNode(t, nil, func(c *Config) {
		c.ListenAddrs = []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.3/tcp/0")}
		c.Invite = real
	})
	stopFlood()
	wg.Wait()
	if !boot.IsMember(student.h.ID()) {
		t.Fatal("the student joined, but the bootstrap does not count it a member")
	}
	from := remoteIPOf(boot.h, student.h)
	if from != "127.0.0.3" {
		t.Fatalf("the student came from %s, not from its own address: the test does not test what it says", from)
	}
	t.Logf("%d bad attempts, %d of them answered with a refusal", attempts.Load(), refused.Load())
}

// badAttempt is one attacker: a fresh host on 127.0.0.2 that asks for
// admission with inv (whose token is wrong) and keeps its connection until
// the bootstrap closes it or ctx ends. It reports whether the bootstrap
// answered with a refusal.
func badAttempt(ctx context.Context, t *testing.T, inv membership.Invite) bool {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Error(err)
		return false
	}
	h, err := ihost.New(ihost.Options{Key: k, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.2/tcp/0")}, MaxPeers: 4})
	if err != nil {
		t.Error(err)
		return false
	}
	defer h.Close()
	gone := make(chan struct{}, 1)
	h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(network.Network, network.Conn) {
		select {
		case gone <- struct{}{}:
		default:
		}
	}})
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = membership.Join(actx, h, inv, membership.JoinRequest{Name: "intruder"})
	cancel()
	var r *membership.RefusalError
	ok := errors.As(err, &r)
	if h.Network().Connectedness(inv.Bootstrap.ID) == network.Connected {
		select { // hold the connection as long as the bootstrap lets us
		case <-gone:
		case <-ctx.Done():
		}
	}
	return ok
}

// remoteIPOf is the IP address from which a's connection to b comes, as a
// sees it.
func remoteIPOf(a, b host.Host) string {
	for _, c := range a.Network().ConnsToPeer(b.ID()) {
		if ip, err := manet.ToIP(c.RemoteMultiaddr()); err == nil {
			return ip.String()
		}
	}
	return ""
}
