package p2pshare

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// The environment of a leecher child process (see TestMain): a test binary
// started with envChild=leecher fetches one share and exits instead of
// running tests, so that its resource usage is a leecher's alone.
const (
	envChild     = "P2PSHARE_BENCH_CHILD"      // "leecher", or "bootstrap" (linux)
	envChildBoot = "P2PSHARE_BENCH_INVITE"     // an invite to the seeder's network
	envChildIH   = "P2PSHARE_BENCH_INFOHASH"   // the share to fetch
	envChildOut  = "P2PSHARE_BENCH_OUT"        // FetchOptions.Out
	envChildProf = "P2PSHARE_BENCH_CHILD_PROF" // optional folder for cpu.pprof and heap.pprof
)

// childResult is the JSON line a leecher child prints on success.
type childResult struct {
	Bytes      int64   `json:"bytes"`
	FetchSecs  float64 `json:"fetch_s"`    // Fetch call to Wait returning
	JoinSecs   float64 `json:"join_s"`     // New, including the join
	GoSysMiB   float64 `json:"go_sys_MiB"` // runtime.MemStats.Sys at the end
	HeapSysMiB float64 `json:"heap_sys_MiB"`
	NumGC      uint32  `json:"num_gc"`
}

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "bootstrap" {
		if err := runBootstrapChild(); err != nil {
			fmt.Fprintln(os.Stderr, "bootstrap child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(envChild) == "leecher" {
		if err := runLeecherChild(); err != nil {
			fmt.Fprintln(os.Stderr, "leecher child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runLeecherChild joins through envChildBoot, fetches envChildIH to
// envChildOut, waits for it, and prints a childResult line.
func runLeecherChild() error {
	ih, err := ParseInfohash(os.Getenv(envChildIH))
	if err != nil {
		return err
	}
	out := os.Getenv(envChildOut)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	t0 := time.Now()
	s, err := New(ctx, Config{
		ListenAddrs: loopback(),
		Invite:      os.Getenv(envChildBoot),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	join := time.Since(t0)
	start := time.Now()
	d, err := s.Fetch(ctx, ih, FetchOptions{Out: out})
	if err != nil {
		return err
	}
	if err := d.Wait(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	if prof := os.Getenv(envChildProf); prof != "" {
		f, err := os.Create(filepath.Join(prof, "heap.pprof"))
		if err != nil {
			return err
		}
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return json.NewEncoder(os.Stdout).Encode(childResult{
		Bytes:      d.Size(),
		FetchSecs:  elapsed.Seconds(),
		JoinSecs:   join.Seconds(),
		GoSysMiB:   float64(ms.Sys) / (1 << 20),
		HeapSysMiB: float64(ms.HeapSys) / (1 << 20),
		NumGC:      ms.NumGC,
	})
}
