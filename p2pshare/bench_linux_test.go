//go:build linux

package p2pshare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func init() {
	processCPU = func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return cpuOf(&ru)
	}
}

func cpuOf(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLeecherPeakRSS measures the peak resident set of a process that
// does nothing but leech one share: the test binary re-executed as a leecher
// child (see TestMain), fetching from a seeder in this process. Linux only:
// ru_maxrss is in KiB there. The goal is peak_rss_MiB < 150.
func BenchmarkLeecherPeakRSS(b *testing.B) {
	size := benchSize(b)
	src, sum := writeBenchFile(b, b.TempDir(), size)
	outDir := benchOutDir(b)
	seed := testNode(b, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ih, err := seed.Share(ctx, src, ShareOptions{})
	if err != nil {
		b.Fatalf("Share: %v", err)
	}
	var peakKiB int64
	var fetchSecs float64
	var childCPU time.Duration
	var last childResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		out := filepath.Join(outDir, fmt.Sprintf("leech-%d-%d", i, time.Now().UnixNano()))
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-test.bench=^$")
		invite, err := seed.Invite(InviteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cmd.Env = append(os.Environ(),
			envChild+"=leecher",
			envChildBoot+"="+invite,
			envChildIH+"="+ih.String(),
			envChildOut+"="+out,
		)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		cmd.Stderr = os.Stderr
		b.StartTimer()
		err = cmd.Run()
		b.StopTimer()
		if err != nil {
			b.Fatalf("leecher child: %v; stdout: %s", err, stdout.Bytes())
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatalf("no rusage for the leecher child")
		}
		peakKiB = max(peakKiB, ru.Maxrss)
		childCPU += cpuOf(ru)
		if err := json.Unmarshal(bytes.TrimSpace(lastLine(stdout.Bytes())), &last); err != nil {
			b.Fatalf("leecher child printed %q: %v", stdout.Bytes(), err)
		}
		fetchSecs += last.FetchSecs
		if got := fileSHA256(b, out); !bytes.Equal(got[:], sum[:]) {
			b.Fatalf("fetched content differs from the source")
		}
		os.Remove(out)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(peakKiB)/1024, "peak_rss_MiB")
	n := float64(b.N) * float64(size)
	b.ReportMetric(n/mb/fetchSecs, "fetch_MB/s")
	// The whole child's CPU, start-up and join included: the leecher's
	// share of S1's fetch_cpu_s/GB.
	b.ReportMetric(childCPU.Seconds()/(n/1e9), "child_cpu_s/GB")
	b.ReportMetric(last.GoSysMiB, "child_go_sys_MiB")
	b.ReportMetric(float64(last.NumGC), "child_gcs")
}

func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, "\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return out
}
