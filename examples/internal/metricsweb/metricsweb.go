// Package metricsweb serves a node's Prometheus metrics for the example
// programs' -metrics flag: p2pshare's own (Swarm.Metrics), libp2p's, and the
// Go runtime's and the process's, on /metrics.
package metricsweb

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pshare/p2pshare/examples/internal/classweb"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// Libp2p is where a node's libp2p metrics go (p2pshare.Config.Metrics):
// Prometheus's default registry, which Serve exposes, if on; else nowhere.
func Libp2p(on bool) prometheus.Registerer {
	if !on {
		return nil
	}
	return prometheus.DefaultRegisterer
}

// Serve serves sw's metrics, with libp2p's and the runtime's from the
// default registry, on addr at /metrics until ctx ends.
func Serve(ctx context.Context, addr string, sw *p2pshare.Swarm) (*classweb.Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(sw.Metrics()); err != nil {
		return nil, err
	}
	// The default registry holds the Go and process collectors, and
	// libp2p's when Config.Metrics was Libp2p(true).
	g := prometheus.Gatherers{reg, prometheus.DefaultGatherer}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return classweb.Listen(ctx, addr, mux)
}

// Addr checks a -metrics address, filling in the host when it has none:
// loopback, or every interface with remote (-metrics-remote). Without
// remote it must be a loopback address: the metrics name the shares, the
// peers and the class's progress, for this machine's scraper alone.
func Addr(addr string, remote bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-metrics %q: want host:port or :port (%v)", addr, err)
	}
	if host == "" && !remote {
		host = "127.0.0.1"
	}
	if !remote && !classweb.IsLoopbackAddr(net.JoinHostPort(host, port)) {
		return "", fmt.Errorf("-metrics %s is not a loopback address: add -metrics-remote to let other machines read the metrics", addr)
	}
	return net.JoinHostPort(host, port), nil
}
