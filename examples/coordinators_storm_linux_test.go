package examples_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestLeaderKilledMidStorm: a class of 50 joins at once through a group of
// three coordinator processes, sent to them in turn; once ten are in, the
// leader (the bootstrap A) is killed with SIGKILL. A newcomer whose
// coordinator does not answer, or dies before answering, tries the next
// one, as a newcomer with an invite that names several does; one whose
// admission A committed before it died is admitted again at B as the
// same member. Every join ends admitted or with an error that says why;
// afterwards the group's committed registry, read at B's console, holds
// each admitted name for the peer admitted under it and nobody else, and
// the invite's uses are counted once each: exactly as many fresh
// newcomers get in as uses were left.
func TestLeaderKilledMidStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three coordinator processes and 50 newcomers")
	}
	const n = 50
	bin := build(t, "seeder")
	// The two co-coordinators join with the class invite, and 5 uses stay
	// for the fresh newcomers at the end.
	const spare = 5
	cs, ais := coordGroup(t, bin, t.TempDir(), 3, n+2+spare)
	inv, err := membership.ParseInvite(cs[0].s.Invite)
	if err != nil {
		t.Fatal(err)
	}
	newHost := func() host.Host {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ihost.New(ihost.Options{Key: k, MaxPeers: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	// join asks the coordinators from first on, in turn, until one
	// answers, as p2pshare's joinAny does with the coordinators an invite
	// names: a refusal is an answer; a connection that fails, or an
	// admission cut off by its coordinator's death, is not.
	var elsewhere atomic.Int32 // joins that went on to another coordinator
	join := func(h host.Host, name string, first int) (membership.Credentials, error) {
		var errs []error
		for k := range len(ais) {
			if k == 1 {
				elsewhere.Add(1)
			}
			via := inv
			via.Bootstrap = ais[(first+k)%len(ais)]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cr, err := membership.Join(ctx, h, via, membership.JoinRequest{Name: name})
			cancel()
			if err == nil || errors.Is(err, membership.ErrRefused) {
				return cr, err
			}
			errs = append(errs, err)
		}
		return membership.Credentials{}, errors.Join(errs...)
	}

	hosts := make([]host.Host, n)
	for i := range hosts {
		hosts[i] = newHost()
	}
	admitted := make([]peer.ID, n) // by newcomer, who got in as s%04d
	errs := make([]error, n)
	var in atomic.Int32
	tenIn := make(chan struct{})
	var once sync.Once
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			cr, err := join(hosts[i], fmt.Sprintf("s%04d", i), i%len(ais))
			if err != nil {
				errs[i] = err
				return
			}
			mc, err := membership.ParseMemberCert(cr.Cert)
			if err != nil || mc.Peer != hosts[i].ID() || mc.Name != fmt.Sprintf("s%04d", i) {
				errs[i] = fmt.Errorf("admitted with a certificate for %q, peer %s (parse: %v)", mc.Name, mc.Peer, err)
				return
			}
			admitted[i] = mc.Peer
			if in.Add(1) == 10 {
				once.Do(func() { close(tenIn) })
			}
		})
	}
	close(start)
	select {
	case <-tenIn:
	case <-time.After(2 * time.Minute):
		t.Fatalf("fewer than ten of %d admitted in 2 minutes", n)
	}
	if err := cs[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := in.Load()
	wg.Wait()

	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, membership.ErrRefused):
			t.Errorf("s%04d: not admitted at any coordinator, and not refused: %v", i, err)
		default:
			t.Logf("s%04d: refused: %v", i, err)
		}
	}
	t.Logf("A killed after %d admissions; %d of %d admitted in all, %d of them at a second coordinator", killedAt, ok, n, elsewhere.Load())
	if ok <= int(killedAt) || elsewhere.Load() == 0 {
		t.Errorf("the test did not test a leader's death mid-storm: %d admitted before it, %d in all, %d joins went on to another coordinator", killedAt, ok, elsewhere.Load())
	}

	// The committed registry at B holds each admitted name for the peer
	// admitted under it, and the name of a newcomer that failed for nobody.
	b := cs[1]
	for i := range n {
		name := fmt.Sprintf("s%04d", i)
		a := b.answer("invite "+name, "seeder: invite:", "p2pshare://")
		held := strings.Contains(a, "is already held by peer")
		switch {
		case admitted[i] != "" && !(held && strings.Contains(a, admitted[i].String())):
			t.Errorf("%s was admitted as %s, but B says: %s", name, admitted[i], a)
		case admitted[i] == "" && held:
			t.Errorf("%s: its newcomer failed, but B holds the name: %s", name, a)
		case !held && strings.HasPrefix(a, "seeder: invite:"):
			t.Errorf("invite %s at B: %s", name, a)
		}
	}
	// The uses: n+2+spare, of which the two co-coordinators took 2 and each
	// admission 1, once however often it was asked. Fresh newcomers get in
	// through B exactly until the rest are used.
	left := n + spare - ok
	fresh := 0
	for k := range left + 1 {
		_, err := join(newHost(), fmt.Sprintf("f%04d", k), 1)
		if err != nil {
			if !strings.Contains(err.Error(), "no uses left") {
				t.Fatalf("fresh newcomer %d: %v", k, err)
			}
			break
		}
		fresh++
	}
	if fresh != left {
		t.Errorf("after the storm %d fresh newcomers got in, want the %d uses left (of %d: %d admitted, 2 co-coordinators)",
			fresh, left, n+2+spare, ok)
	}
}
