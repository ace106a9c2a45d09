package discovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// newHost is a real libp2p host on loopback, closed at the test's end.
func newHost(t *testing.T) host.Host {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ihost.New(ihost.Options{Key: key, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func addrInfo(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// failedAttempts is a log handler that hands on what each failed join
// attempt said, as the node's log reports it.
type failedAttempts chan string

func (failedAttempts) Enabled(context.Context, slog.Level) bool { return true }
func (f failedAttempts) WithAttrs([]slog.Attr) slog.Handler     { return f }
func (f failedAttempts) WithGroup(string) slog.Handler          { return f }
func (f failedAttempts) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "join attempt failed" {
		return nil
	}
	var said string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "peers" {
			said = a.Value.String()
		}
		return true
	})
	select {
	case f <- said:
	default:
	}
	return nil
}

// TestJoinRetriesUntilBootstrapSpeaksDHT: the bootstrap peer speaks no DHT
// when the newcomer first reaches it, and starts its DHT only once the
// newcomer's first attempt has failed; the newcomer tries again and joins.
func TestJoinRetriesUntilBootstrapSpeaksDHT(t *testing.T) {
	boot := newHost(t)
	attempts := make(failedAttempts, 16)
	d, err := New(newHost(t), Options{Bootstrap: []peer.AddrInfo{addrInfo(boot)}, Log: slog.New(attempts), RefreshDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Join(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Join ended before any attempt failed: %v", err)
	case said := <-attempts:
		t.Logf("first attempt: %s", said)
		if !strings.Contains(said, boot.ID().String()) || !strings.Contains(said, "not "+string(dhtProtocol)) {
			t.Errorf("the failed attempt says %q; want the bootstrap %s not speaking %s", said, boot.ID(), dhtProtocol)
		}
	}
	bd, err := New(boot, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bd.Close() })
	if err := <-done; err != nil {
		t.Fatalf("Join after the bootstrap started its DHT: %v", err)
	}
	if n := d.RoutingTableSize(); n != 1 {
		t.Fatalf("routing table holds %d peers, want the bootstrap", n)
	}
}

// TestJoinGivesUpSayingWhatItTried: with a bootstrap peer that never
// speaks the DHT and one that is gone, Join gives up when its context
// ends, and its error counts the attempts and says what each peer said.
func TestJoinGivesUpSayingWhatItTried(t *testing.T) {
	mute := newHost(t)
	gone := newHost(t)
	goneInfo := addrInfo(gone)
	gone.Close()
	d, err := New(newHost(t), Options{Bootstrap: []peer.AddrInfo{addrInfo(mute), goneInfo}, RefreshDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = d.Join(ctx)
	var je *JoinError
	if !errors.As(err, &je) {
		t.Fatalf("Join returned %v, want a *JoinError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error %v does not wrap the context's", err)
	}
	if len(je.Attempts) < 2 {
		t.Fatalf("gave up after %d attempts, want retries: %v", len(je.Attempts), err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{
		fmt.Sprintf("in %d attempts over", len(je.Attempts)),
		"exceeded); attempt",
		mute.ID().String() + ": connected, but it speaks [",
		"not " + string(dhtProtocol),
		goneInfo.ID.String() + ": dial failed: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q", want)
		}
	}
	for _, a := range je.Attempts {
		if len(a.Peers) != 2 {
			t.Errorf("attempt %d heard from %d peers, want both", a.N, len(a.Peers))
		}
	}
}

func TestJudge(t *testing.T) {
	dial := errors.New("connection refused")
	cases := []struct {
		name string
		seen seen
		step step
		said string
	}{
		{"dial failed", seen{dialErr: dial}, stepWait, "dial failed: connection refused"},
		{"not identified", seen{allowed: true}, stepRedial, "identify has not told"},
		{"no DHT", seen{protocols: []protocol.ID{"/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"}, allowed: true}, stepRedial,
			"speaks [/ipfs/id/1.0.0 /ipfs/ping/1.0.0], not /p2pshare/kad/1.0.0"},
		{"filtered", seen{protocols: []protocol.ID{dhtProtocol}}, stepWait, "filter refuses it"},
		{"may enter", seen{protocols: []protocol.ID{"/ipfs/id/1.0.0", dhtProtocol}, allowed: true}, stepAdd, "in the routing table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, said := judge(c.seen)
			if st != c.step || !strings.Contains(said, c.said) {
				t.Errorf("judge = %v, %q; want %v, %q", st, said, c.step, c.said)
			}
		})
	}
}

func TestJoinErrorText(t *testing.T) {
	p := peer.ID("boot")
	try := func(n int, said string) JoinAttempt {
		return JoinAttempt{N: n, Peers: []PeerTry{{Peer: p, Said: said}}}
	}
	cases := []struct {
		name     string
		attempts []JoinAttempt
		want     string
	}{
		{"one", []JoinAttempt{try(1, "dial failed: x")},
			"in 1 attempt over 1s (context deadline exceeded); attempt 1: " + p.String() + ": dial failed: x"},
		{"runs told once", []JoinAttempt{try(1, "a"), try(2, "b"), try(3, "b"), try(4, "b"), try(5, "a")},
			"in 5 attempts over 1s (context deadline exceeded); attempt 1: " + p.String() + ": a; attempts 2-4: " +
				p.String() + ": b; attempt 5: " + p.String() + ": a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &JoinError{Attempts: c.attempts, Elapsed: time.Second, Err: context.DeadlineExceeded}
			if got := e.Error(); got != "discovery: no bootstrap peer entered the routing table "+c.want {
				t.Errorf("got  %s\nwant …%s", got, c.want)
			}
		})
	}
}

func TestJoinWait(t *testing.T) {
	var got []time.Duration
	for w := joinFirstWait; len(got) < 7; w = joinWait(w) {
		got = append(got, w)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", got, want)
	}
}
