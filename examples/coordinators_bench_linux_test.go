//go:build linux

package examples_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// envCoordStormN sets how many newcomers join at once in
// BenchmarkCoordinatorAdmissions (unset: 100).
const envCoordStormN = "P2PSHARE_COORD_STORM_N"

// coordGroup starts a coordinator group of size seeder processes on
// loopback: the bootstrap A (seeder -coordinators), whose class invite
// admits uses members, and size-1 co-coordinators; size 0 is a bootstrap
// that keeps its registry alone, with no group. It returns them, A first,
// and each one's address with its peer ID.
func coordGroup(b testing.TB, bin map[string]string, dir string, size, uses int) ([]*console, []peer.AddrInfo) {
	b.Helper()
	src, _ := randomFile(b, dir, 64<<10)
	var names []string
	for i := 1; i < size; i++ {
		names = append(names, "ta-"+strconv.Itoa(i))
	}
	args := []string{"-invite-uses", strconv.Itoa(uses), "-name", "teacher", "-data", filepath.Join(dir, "a"), "-log-level", "error"}
	switch {
	case size > 1:
		args = append(args, "-coordinators", strings.Join(names, ","))
	case size == 1:
		args = append(args, "-coordinators", "nobody") // a group of one
	}
	a := startConsole(b, bin["seeder"], src, args...)
	cs := []*console{a}
	for _, name := range names {
		cs = append(cs, startConsole(b, bin["seeder"], src, "-invite", a.s.Invite, "-name", name, "-coordinator",
			"-data", filepath.Join(dir, name), "-log-level", "error"))
	}
	var ais []peer.AddrInfo
	for _, c := range cs {
		ai, err := peer.AddrInfoFromString(loopbackAddr(b, c.s.Addrs))
		if err != nil {
			b.Fatal(err)
		}
		ais = append(ais, *ai)
	}
	return cs, ais
}

// BenchmarkCoordinatorAdmissions has a class join at once through one
// bootstrap with no group, a group of 1 and a group of 3 coordinators:
// seeder processes (-coordinators, and
// -invite … -coordinator), each joiner a light client in this process (a
// libp2p host and the admission exchange) sent to the coordinators in
// turn. A whole admission: the proof, the signature, the commit to the
// group's log, the certificate back. It reports admissions per second and
// the CPU per admission of the bootstrap A, the group's first leader, and
// of the busiest other coordinator. P2PSHARE_COORD_STORM_N sets the class
// size (default 100).
//
//	go test -run '^$' -bench BenchmarkCoordinatorAdmissions -benchtime 1x ./examples/
func BenchmarkCoordinatorAdmissions(b *testing.B) {
	n := 100
	if s := os.Getenv(envCoordStormN); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive count", envCoordStormN, s)
		}
	}
	bin := build(b, "seeder")
	for _, size := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("coordinators=%d", size), func(b *testing.B) {
			var admitted int
			var elapsed, leaderCPU, otherCPU time.Duration
			for range b.N {
				b.StopTimer()
				// The co-coordinators join with the class invite too.
				cs, ais := coordGroup(b, bin, b.TempDir(), size, n+size)
				inv, err := membership.ParseInvite(cs[0].s.Invite)
				if err != nil {
					b.Fatal(err)
				}
				hosts := make([]host.Host, n)
				for i := range hosts {
					k, _, err := crypto.GenerateEd25519Key(nil)
					if err != nil {
						b.Fatal(err)
					}
					if hosts[i], err = ihost.New(ihost.Options{Key: k, MaxPeers: 8}); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { hosts[i].Close() })
				}
				cpu0 := make([]time.Duration, len(cs))
				for i, c := range cs {
					cpu0[i] = processCPU(b, c.cmd.Process.Pid)
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				var firstErr error
				ok := 0
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						via := inv
						via.Bootstrap = ais[i%len(ais)]
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
						defer cancel()
						_, err := membership.Join(ctx, hosts[i], via, membership.JoinRequest{Name: fmt.Sprintf("s%04d", i)})
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							if firstErr == nil {
								firstErr = err
							}
							return
						}
						ok++
					}()
				}
				b.StartTimer()
				t0 := time.Now()
				close(start)
				wg.Wait()
				elapsed += time.Since(t0)
				b.StopTimer()
				admitted += ok
				leaderCPU += processCPU(b, cs[0].cmd.Process.Pid) - cpu0[0]
				var most time.Duration
				for i := 1; i < len(cs); i++ {
					most = max(most, processCPU(b, cs[i].cmd.Process.Pid)-cpu0[i])
				}
				otherCPU += most
				if firstErr != nil {
					b.Logf("%d of %d refused or failed; the first: %v", n-ok, n, firstErr)
				}
			}
			b.ReportMetric(float64(admitted)/elapsed.Seconds(), "admissions/s")
			b.ReportMetric(float64(leaderCPU.Microseconds())/1e3/float64(max(admitted, 1)), "A_cpu_ms/admission")
			if size > 1 {
				b.ReportMetric(float64(otherCPU.Microseconds())/1e3/float64(max(admitted, 1)), "other_cpu_ms/admission")
			}
		})
	}
}

// BenchmarkCoordinatorElection kills the leader of a group of 3 seeder
// processes (the bootstrap A, which leads from the start) with SIGKILL,
// and at once asks B for an invite, which commits a token to the group's
// log, again while B answers that it failed: the time until B prints one
// is the election and a commit, as the teacher at B sees it.
//
//	go test -run '^$' -bench BenchmarkCoordinatorElection -benchtime 5x ./examples/
func BenchmarkCoordinatorElection(b *testing.B) {
	bin := build(b, "seeder")
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		cs, _ := coordGroup(b, bin, b.TempDir(), 3, 10)
		// The group commits through A before the kill: B's invite is
		// committed, B and C hold the log.
		cs[1].do("invite 1", "p2pshare://")
		if err := cs[0].cmd.Process.Kill(); err != nil {
			b.Fatal(err)
		}
		killed := time.Now()
		b.StartTimer()
		// B may have forwarded it to A, dead, and be unsure whether it was
		// committed: the teacher asks again, as B's answer says.
		for {
			l := cs[1].answer("invite 1", "seeder: invite", "p2pshare://")
			if strings.HasPrefix(l, "p2pshare://") {
				break
			}
			if time.Since(killed) > deadline {
				b.Fatalf("B gave no invite %v after A's SIGKILL; last: %s", deadline, l)
			}
		}
		b.StopTimer()
		total += time.Since(killed)
		_ = cs[0].cmd.Wait()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s_to_commit_after_kill")
}

// processCPU is the user and system CPU time process pid has used, from
// /proc/PID/stat (fields 14 and 15, in USER_HZ ticks of 10 ms).
func processCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // field 3 on
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %q: %v", pid, v, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
