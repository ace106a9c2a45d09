package p2pshare

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	ihost "github.com/p2pshare/p2pshare/internal/host"
)

// The benchmarks' knobs, read from the environment so that a quick run can
// shrink the share and a diagnostic run can move the leecher's output.
const (
	// envBenchSize is the share size in bytes; unset means 1 GiB.
	envBenchSize = "P2PSHARE_BENCH_SIZE"
	// envBenchDir is the folder leechers write into (e.g. a tmpfs, to take
	// the disk out of the figure); unset means the benchmark's temp dir.
	envBenchDir = "P2PSHARE_BENCH_DIR"
	// envBenchRaw=off skips S1's raw stream copy, so that a CPU profile of
	// the benchmark holds the swarm's costs alone.
	envBenchRaw = "P2PSHARE_BENCH_RAW"
)

// processCPU returns the CPU time (user + system) this process has used so
// far, where the platform can tell (see bench_linux_test.go); nil elsewhere.
// CPU seconds per GB hold still on a busy machine where MB/s do not.
var processCPU func() time.Duration

// rawProtocol is the protocol of the plain stream copy that S1 compares the
// swarm against.
const rawProtocol = protocol.ID("/p2pshare/bench/raw/1.0.0")

// rawChunk is how much the raw sender writes per call.
const rawChunk = 1 << 20

// mb is the megabyte of the MB/s figures, as go test's own MB/s column uses.
const mb = 1e6

func benchSize(b *testing.B) int64 {
	b.Helper()
	s := os.Getenv(envBenchSize)
	if s == "" {
		return 1 << 30
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive byte count", envBenchSize, s)
	}
	return n
}

// benchOutDir is a fresh folder for leecher output under envBenchDir, or
// the benchmark's temp dir.
func benchOutDir(b *testing.B) string {
	b.Helper()
	root := os.Getenv(envBenchDir)
	if root == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(root, "p2pshare-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeBenchFile writes size bytes of seeded pseudo-random content to
// dir/image.bin, streaming so that a 1 GiB file costs no 1 GiB of heap, and
// returns its path and SHA-256.
func writeBenchFile(b *testing.B, dir string, size int64) (string, [sha256.Size]byte) {
	b.Helper()
	p := filepath.Join(dir, "image.bin")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	var seed [32]byte
	copy(seed[:], "p2pshare benchmark content seed")
	src := io.LimitReader(mrand.NewChaCha8(seed), size)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
		f.Close()
		b.Fatal(err)
	}
	// Flush it now, or its writeback would compete with the timed transfer.
	if err := f.Sync(); err != nil {
		f.Close()
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return p, sum
}

func fileSHA256(b *testing.B, p string) [sha256.Size]byte {
	b.Helper()
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20)); err != nil {
		b.Fatal(err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// rawPair is two hosts built exactly as a node's (internal/host.New: TCP,
// TLS 1.3 preferred, yamux), connected, with the receiver discarding
// rawProtocol streams and answering each with one byte.
type rawPair struct {
	send, recv host.Host
}

func newRawPair(b *testing.B) *rawPair {
	b.Helper()
	return newRawPairWith(b, func(k crypto.PrivKey) (host.Host, error) {
		return ihost.New(ihost.Options{Key: k, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
	})
}

// newRawPairWith is newRawPair with hosts that mk builds from a fresh key.
func newRawPairWith(b *testing.B, mk func(crypto.PrivKey) (host.Host, error)) *rawPair {
	b.Helper()
	mkHost := func() host.Host {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		h, err := mk(k)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { h.Close() })
		return h
	}
	p := &rawPair{send: mkHost(), recv: mkHost()}
	p.recv.SetStreamHandler(rawProtocol, func(s network.Stream) {
		if _, err := io.Copy(io.Discard, s); err != nil {
			s.Reset()
			return
		}
		if _, err := s.Write([]byte{1}); err != nil {
			s.Reset()
			return
		}
		s.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.send.Connect(ctx, peer.AddrInfo{ID: p.recv.ID(), Addrs: p.recv.Addrs()}); err != nil {
		b.Fatalf("connecting the raw hosts: %v", err)
	}
	return p
}

// copy sends n bytes over a new stream in rawChunk writes, half-closes, and
// waits for the receiver's acknowledgement that it read them all. It returns
// the time from opening the stream to the acknowledgement.
func (p *rawPair) copy(b *testing.B, n int64) time.Duration {
	b.Helper()
	buf := make([]byte, rawChunk)
	rand.Read(buf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	s, err := p.send.NewStream(ctx, p.recv.ID(), rawProtocol)
	if err != nil {
		b.Fatalf("raw stream: %v", err)
	}
	defer s.Close()
	for left := n; left > 0; {
		k := min(left, rawChunk)
		if _, err := s.Write(buf[:k]); err != nil {
			b.Fatalf("raw write: %v", err)
		}
		left -= k
	}
	if err := s.CloseWrite(); err != nil {
		b.Fatalf("raw CloseWrite: %v", err)
	}
	var ack [1]byte
	if _, err := io.ReadFull(s, ack[:]); err != nil {
		b.Fatalf("raw ack: %v", err)
	}
	return time.Since(start)
}

// BenchmarkS1SeederToLeecher is scenario S1 of DESIGN.md §4: one seeder, one
// leecher, one process, loopback, no caps. Each iteration starts a fresh
// leecher node (joined through the seeder, so the connection is up), then
// times Fetch to Wait into a fresh output path; in the same iteration it
// times a plain libp2p stream copy of as many bytes between two hosts built
// the same way. x_of_raw is the swarm's rate over the raw stream's; the goal
// is at least 0.85. ns/op and the MB/s column cover the fetch only.
func BenchmarkS1SeederToLeecher(b *testing.B) {
	size := benchSize(b)
	dir := b.TempDir()
	src, sum := writeBenchFile(b, dir, size)
	outDir := benchOutDir(b)
	seed := testNode(b, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ih, err := seed.Share(ctx, src, ShareOptions{})
	if err != nil {
		b.Fatalf("Share: %v", err)
	}
	var raw *rawPair
	if os.Getenv(envBenchRaw) != "off" {
		raw = newRawPair(b)
	}
	var fetchTime, rawTime, resolveTime, fetchCPU, rawCPU time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if raw != nil {
			c := cpuNow()
			rawTime += raw.copy(b, size)
			rawCPU += cpuNow() - c
		}
		leech := testNode(b, seed, nil)
		out := filepath.Join(outDir, fmt.Sprintf("fetch-%d-%d", i, time.Now().UnixNano()))
		b.StartTimer()

		cpu0 := cpuNow()
		start := time.Now()
		d, err := leech.Fetch(ctx, ih, FetchOptions{Out: out})
		if err != nil {
			b.Fatalf("Fetch: %v", err)
		}
		resolved := time.Since(start)
		if err := d.Wait(ctx); err != nil {
			b.Fatalf("Wait: %v", err)
		}
		elapsed := time.Since(start)
		cpu := cpuNow() - cpu0

		b.StopTimer()
		fetchCPU += cpu
		fetchTime += elapsed
		resolveTime += resolved
		if got := fileSHA256(b, out); !bytes.Equal(got[:], sum[:]) {
			b.Fatalf("fetched content differs from the source")
		}
		leech.Close()
		os.Remove(out)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N) * float64(size)
	fetchRate := n / mb / fetchTime.Seconds()
	b.ReportMetric(fetchRate, "fetch_MB/s")
	b.ReportMetric(float64(resolveTime.Milliseconds())/float64(b.N), "resolve_ms")
	if raw != nil {
		rawRate := n / mb / rawTime.Seconds()
		b.ReportMetric(rawRate, "raw_MB/s")
		b.ReportMetric(fetchRate/rawRate, "x_of_raw")
	}
	if processCPU != nil {
		// Both ends of each transfer run in this process, so these are the
		// CPU seconds of sending and receiving a GB.
		b.ReportMetric(fetchCPU.Seconds()/(n/1e9), "fetch_cpu_s/GB")
		if raw != nil {
			b.ReportMetric(rawCPU.Seconds()/(n/1e9), "raw_cpu_s/GB")
		}
	}
}

func cpuNow() time.Duration {
	if processCPU == nil {
		return 0
	}
	return processCPU()
}
