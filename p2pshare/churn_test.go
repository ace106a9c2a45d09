package p2pshare

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// startNodes starts n members of boot's network, four at a time (more at
// once can time out the bootstrap's handshakes on a busy machine), each with
// its own invite, and closes them when the test ends.
func startNodes(t *testing.T, boot *Swarm, n int, mod func(*Config)) []*Swarm {
	t.Helper()
	cfgs := make([]Config, n)
	spare := make([]string, n) // a second invite each, should a join time out
	for i := range cfgs {
		cfgs[i] = Config{ListenAddrs: loopback(), ProvideInterval: 2 * time.Second, Invite: mustInvite(t, boot)}
		spare[i] = mustInvite(t, boot)
		if mod != nil {
			mod(&cfgs[i])
		}
	}
	nodes := make([]*Swarm, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for i := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			nodes[i], errs[i] = New(context.Background(), cfgs[i])
			if errs[i] != nil {
				cfgs[i].Invite = spare[i]
				nodes[i], errs[i] = New(context.Background(), cfgs[i])
			}
		}()
	}
	wg.Wait()
	for i, s := range nodes {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("node %d: New: %v", i, errs[i])
		}
	}
	return nodes
}

// churnMember is one member of a churning class.
type churnMember struct {
	s    *Swarm
	d    *Download
	left bool
	last int // pieces it held at its last progress event
}

// churnClass is a class whose members come and go; their events are merged
// onto one channel.
type churnClass struct {
	ih      Infohash
	dir     string
	members []*churnMember
	events  chan memberEvent

	mu     sync.Mutex
	blocks []string // blocks by piece-exchange registries: none is expected
}

// watchBlocks lets n's registry block peers, as a node does, and records
// each block.
func (c *churnClass) watchBlocks(n *Swarm) {
	n.reg.SetBlock(func(p PeerID, until time.Time) {
		c.mu.Lock()
		c.blocks = append(c.blocks, n.ID().String()+" blocked "+p.String())
		c.mu.Unlock()
		n.net.m.Block(p, until)
	})
}

// join makes each node a member of the class and starts its fetch, the
// nodes' fetches all at once.
func (c *churnClass) join(ctx context.Context, t *testing.T, nodes ...*Swarm) {
	t.Helper()
	downloads := make([]*Download, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for k, n := range nodes {
		t.Cleanup(func() { n.Close() })
		c.watchBlocks(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			downloads[k], errs[k] = n.Fetch(ctx, c.ih, FetchOptions{Out: filepath.Join(c.dir, n.ID().String())})
		}()
	}
	wg.Wait()
	for k, n := range nodes {
		d, err := downloads[k], errs[k]
		if err != nil {
			t.Fatalf("member %d: Fetch: %v", len(c.members), err)
		}
		i := len(c.members)
		c.members = append(c.members, &churnMember{s: n, d: d})
		go func() {
			for e := range d.Events() {
				select {
				case c.events <- memberEvent{i, e}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

// TestChurn: a class of 20 fetches a share from one seeder, whose upload is
// capped so that the class mostly trades among itself. Each time the class
// has verified another twelfth of what it needs, one member leaves in the
// middle of its download — every other time abruptly, its host closed under
// it with no goodbye — and a newcomer joins and starts fetching. Every member
// that stays, newcomers included, completes with the right bytes.
func TestChurn(t *testing.T) {
	const (
		members   = 20
		rounds    = 8
		size      = 8 << 20
		pieceSize = 64 << 10
		pieces    = size / pieceSize
	)
	// Generous: twenty-odd nodes under the race detector on a busy machine
	// take a minute or two; on a quiet one, under one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	since := func() time.Duration { return time.Since(start).Round(100 * time.Millisecond) }
	dir := t.TempDir()
	boot := testNode(t, nil, nil)
	seeder := testNode(t, boot, func(c *Config) { c.UploadLimit = 2 << 20 })
	src, want := randomFile(t, dir, size)
	ih, err := seeder.Share(ctx, src, ShareOptions{PieceSize: pieceSize})
	if err != nil {
		t.Fatal(err)
	}
	// Members' downloads are capped too, so that a fetch lasts long enough
	// (8 s at least) for the churn to hit it.
	capped := func(c *Config) { c.DownloadLimit = 1 << 20 }
	c := &churnClass{ih: ih, dir: filepath.Join(dir, "out"), events: make(chan memberEvent, 4096)}
	c.watchBlocks(boot)
	c.watchBlocks(seeder)
	nodes := startNodes(t, boot, members, capped)
	t.Logf("%v: %d members joined the network", since(), members)
	c.join(ctx, t, nodes...)
	t.Logf("%v: %d members fetching", since(), members)

	// Churn round k comes once the class has verified k steps of pieces,
	// counting every member's pieces, those of members that left too.
	step := members * pieces / (rounds + 4)
	rng := rand.New(rand.NewPCG(7, 7))
	joined := make(chan *Swarm, rounds)
	pending := 0
	for round := 1; round <= rounds || pending > 0; {
		var e memberEvent
		select {
		case e = <-c.events:
		case n := <-joined:
			pending--
			if n != nil {
				c.join(ctx, t, n)
			}
			continue
		case <-ctx.Done():
			t.Fatalf("churn round %d: %v", round, ctx.Err())
		}
		if e.Kind == EventProgress || e.Kind == EventPiece {
			c.members[e.i].last = max(c.members[e.i].last, e.Progress.Pieces, c.members[e.i].d.Progress().Pieces)
		}
		verified := 0
		for _, m := range c.members {
			verified += m.last
		}
		if round > rounds || verified < round*step {
			continue
		}
		// The leaver: a member in the middle of its download, chosen at
		// random; failing that, any member still fetching.
		var mid, fetching []*churnMember
		for _, m := range c.members {
			if n := m.d.Progress().Pieces; !m.left && n < pieces {
				fetching = append(fetching, m)
				if n > 0 {
					mid = append(mid, m)
				}
			}
		}
		if len(mid) > 0 {
			fetching = mid
		}
		if len(fetching) == 0 {
			if pending > 0 {
				continue // the next leaver is a newcomer still joining
			}
			t.Fatalf("churn round %d: every member completed already", round)
		}
		m := fetching[rng.IntN(len(fetching))]
		m.left = true
		how := "closes"
		if round%2 == 1 {
			how = "drops off"
			_ = m.s.h.Close() // no goodbye: its connections just die
		} else {
			m.s.Close()
		}
		t.Logf("%v: round %d: %d pieces verified in the class; a member holding %d of %d %s, a newcomer joins", since(), round, verified, m.d.Progress().Pieces, pieces, how)
		// The newcomer joins in the background, while the class goes on.
		pending++
		go func(invs []string) {
			// A join can time out on a busy machine; a newcomer tries
			// again, as a student would.
			var err error
			for _, inv := range invs {
				var n *Swarm
				n, err = New(context.Background(), Config{ListenAddrs: loopback(), ProvideInterval: 2 * time.Second, Invite: inv, DownloadLimit: 1 << 20})
				if err == nil {
					joined <- n
					return
				}
			}
			t.Errorf("newcomer: %v", err)
			joined <- nil
		}([]string{mustInvite(t, boot), mustInvite(t, boot), mustInvite(t, boot)})
		round++
	}

	stayed := 0
	for i, m := range c.members {
		if m.left {
			continue
		}
		stayed++
		if err := m.d.Wait(ctx); err != nil {
			t.Errorf("member %d: %v", i, err)
			continue
		}
		if got, err := os.ReadFile(m.d.Path()); err != nil || !bytes.Equal(got, want) {
			t.Errorf("member %d: content differs from the source (%v)", i, err)
		}
	}
	t.Logf("%v: %d members completed; %d left on the way", since(), stayed, rounds)
	// No honest member trips the flood defences.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.blocks {
		t.Errorf("a registry blocked an honest member: %s", b)
	}
	for _, x := range append([]*Swarm{seeder}, nodesOf(c.members)...) {
		for _, y := range nodesOf(c.members) {
			if se := x.session(ih); se != nil && se.Banned(y.h.ID()) {
				t.Errorf("%s bans %s, an honest member", x.ID(), y.ID())
			}
		}
	}
	if stayed != members {
		t.Fatalf("%d members stayed, want %d", stayed, members)
	}
}

func mustInvite(t *testing.T, boot *Swarm) string {
	t.Helper()
	inv, err := boot.Invite(InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	return inv
}

func nodesOf(members []*churnMember) []*Swarm {
	var out []*Swarm
	for _, m := range members {
		out = append(out, m.s)
	}
	return out
}
