//go:build linux

package p2pshare

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// The join storm's knobs: envStormN is how many members join at once in
// BenchmarkJoinStorm (unset: 200); envStormFull=1 makes them whole nodes
// (p2pshare.New with the invite: admission, DHT join, everything a student's
// node does before its first fetch) instead of light clients;
// envStormOneAddress=1 has them all come from 127.0.0.1, as a class behind
// one NAT address would, instead of each from its own.
const (
	envStormN          = "P2PSHARE_STORM_N"
	envStormFull       = "P2PSHARE_STORM_FULL"
	envStormOneAddress = "P2PSHARE_STORM_ONE_ADDRESS"
)

// stormAddr is where member i of a join storm listens, and so dials from:
// a loopback address of its own (127.1.0.1, 127.1.0.2, …), as each
// student's laptop on a campus network has its own, or 127.0.0.1 for all
// when oneAddress is set.
func stormAddr(i int, oneAddress bool) []ma.Multiaddr {
	if oneAddress {
		return loopback()
	}
	return []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.1.%d.%d/tcp/0", i/250, i%250+1))}
}

// bootChildLine is what a bootstrap child (envChild=bootstrap) prints: its
// invite first, then its CPU time whenever it reads a line on stdin.
type bootChildLine struct {
	Invite string `json:"invite,omitempty"`
	CPUNs  int64  `json:"cpu_ns,omitempty"`
}

// runBootstrapChild runs a bootstrap node (a new network in a temporary
// folder) for BenchmarkJoinStorm: it prints an invite with envStormN uses,
// then its own CPU time for every line it reads on stdin, and exits when
// stdin closes.
func runBootstrapChild() error {
	n, _ := parseStormN(os.Getenv(envStormN))
	dir, err := os.MkdirTemp("", "p2pshare-storm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if prof := os.Getenv(envChildProf); prof != "" {
		f, err := os.Create(filepath.Join(prof, "cpu.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	s, err := New(ctx, Config{DataDir: dir, ListenAddrs: loopback(), NewNetwork: true})
	if err != nil {
		return err
	}
	defer s.Close()
	inv, err := s.Invite(InviteOptions{Uses: n, TTL: time.Hour})
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(bootChildLine{Invite: inv}); err != nil {
		return err
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		if err := out.Encode(bootChildLine{CPUNs: int64(cpuOf(&ru))}); err != nil {
			return err
		}
	}
	return sc.Err()
}

func parseStormN(s string) (int, error) {
	if s == "" {
		return 200, nil
	}
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive count", envStormN, s)
	}
	return n, nil
}

// BenchmarkJoinStorm has a whole class join one bootstrap at the same
// moment: the bootstrap is a full node in a child process (so its CPU is
// its own), the members are light clients in this one — a libp2p host each
// and the admission exchange, nothing more — released together. It
// reports how many were admitted and refused, the join times, and the
// bootstrap's CPU per admission over the storm. Each member comes from a
// loopback address of its own, unless P2PSHARE_STORM_ONE_ADDRESS=1.
// P2PSHARE_STORM_N sets the class size (default 200);
// P2PSHARE_BENCH_CHILD_PROF, a folder, gets the bootstrap's CPU profile.
func BenchmarkJoinStorm(b *testing.B) {
	n, err := parseStormN(os.Getenv(envStormN))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		r := joinStorm(b, n)
		if i == b.N-1 {
			b.ReportMetric(float64(r.admitted), "admitted")
			b.ReportMetric(float64(r.refused), "refused")
			b.ReportMetric(r.p50.Seconds(), "join_p50_s")
			b.ReportMetric(r.last.Seconds(), "join_last_s")
			b.ReportMetric(float64(r.bootCPU.Microseconds())/1e3/float64(max(r.admitted, 1)), "boot_cpu_ms/admission")
			if r.refused > 0 {
				b.Logf("first refusal: %v", r.firstErr)
			}
		}
	}
}

type stormResult struct {
	admitted, refused int
	p50, last         time.Duration
	bootCPU           time.Duration
	firstErr          error
}

func joinStorm(b *testing.B, n int) stormResult {
	b.Helper()
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envChild+"=bootstrap", fmt.Sprintf("%s=%d", envStormN, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	lines := json.NewDecoder(stdout)
	var first bootChildLine
	if err := lines.Decode(&first); err != nil {
		b.Fatalf("bootstrap child: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		times []time.Duration
		res   stormResult
		start = make(chan struct{})
	)
	inv, err := membership.ParseInvite(first.Invite)
	if err != nil {
		b.Fatal(err)
	}
	bootCPU := func() time.Duration {
		if _, err := io.WriteString(stdin, "cpu\n"); err != nil {
			b.Fatal(err)
		}
		var l bootChildLine
		if err := lines.Decode(&l); err != nil {
			b.Fatalf("bootstrap child: %v", err)
		}
		return time.Duration(l.CPUNs)
	}

	full := os.Getenv(envStormFull) == "1"
	oneAddress := os.Getenv(envStormOneAddress) == "1"
	var hosts []host.Host
	if !full {
		hosts = make([]host.Host, n)
		for i := range hosts {
			k, _, err := crypto.GenerateEd25519Key(nil)
			if err != nil {
				b.Fatal(err)
			}
			if hosts[i], err = ihost.New(ihost.Options{Key: k, MaxPeers: 8, ListenAddrs: stormAddr(i, oneAddress)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	defer func() {
		for _, h := range hosts {
			h.Close()
		}
	}()
	var nodes []*Swarm
	defer func() {
		for _, s := range nodes {
			s.Close()
		}
	}()
	dirs := b.TempDir()
	join := func(i int) error {
		if !full {
			jctx, jcancel := context.WithTimeout(ctx, 2*time.Minute)
			defer jcancel()
			_, err := membership.Join(jctx, hosts[i], inv, membership.JoinRequest{Name: fmt.Sprintf("s%04d", i)})
			return err
		}
		s, err := New(ctx, Config{DataDir: filepath.Join(dirs, fmt.Sprint(i)), Invite: first.Invite,
			Name: fmt.Sprintf("s%04d", i), ListenAddrs: stormAddr(i, oneAddress), JoinTimeout: 2 * time.Minute})
		if err == nil {
			mu.Lock()
			nodes = append(nodes, s)
			mu.Unlock()
		}
		return err
	}

	cpu0 := bootCPU()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			err := join(i)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.refused++
				if res.firstErr == nil || (errors.Is(err, membership.ErrRefused) || errors.Is(err, ErrRefused)) && !strings.Contains(res.firstErr.Error(), "refused") {
					res.firstErr = err
				}
				return
			}
			res.admitted++
			times = append(times, d)
		}()
	}
	b.StartTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
	res.bootCPU = bootCPU() - cpu0
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	if len(times) > 0 {
		res.p50, res.last = times[len(times)/2], times[len(times)-1]
	}
	return res
}
