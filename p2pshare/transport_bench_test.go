package p2pshare

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// BenchmarkTransports measures what a node's links cost per byte on each
// transport go-libp2p offers it: one stream between two hosts on loopback,
// rawChunk writes, size bytes (P2PSHARE_BENCH_SIZE) an iteration, no caps.
// It reports MB/s and the CPU seconds (both ends, this process) per GB moved.
// It is how the default (TCP, TLS 1.3, yamux) was chosen over Noise and QUIC.
func BenchmarkTransports(b *testing.B) {
	size := benchSize(b)
	variants := []struct {
		name string
		opts []libp2p.Option
		addr string
	}{
		{"tcp-tls-yamux", []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(libp2ptls.ID, libp2ptls.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport)}, "/ip4/127.0.0.1/tcp/0"},
		{"tcp-noise-yamux", []libp2p.Option{libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport)}, "/ip4/127.0.0.1/tcp/0"},
		{"quic", []libp2p.Option{libp2p.Transport(quic.NewTransport)}, "/ip4/127.0.0.1/udp/0/quic-v1"},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			p := newRawPairWith(b, func(k crypto.PrivKey) (host.Host, error) {
				o := append([]libp2p.Option{libp2p.Identity(k), libp2p.ListenAddrStrings(v.addr), libp2p.DisableRelay(), libp2p.DisableMetrics()}, v.opts...)
				return libp2p.New(o...)
			})
			var elapsed, cpu time.Duration
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				c := cpuNow()
				elapsed += p.copy(b, size)
				cpu += cpuNow() - c
			}
			n := float64(b.N) * float64(size)
			b.ReportMetric(n/mb/elapsed.Seconds(), "stream_MB/s")
			if processCPU != nil {
				b.ReportMetric(cpu.Seconds()/(n/1e9), "cpu_s/GB")
			}
		})
	}
}
