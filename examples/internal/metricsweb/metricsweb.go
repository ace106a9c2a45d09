// Package metricsweb serves a node's Prometheus metrics for the example
// programs' -metrics flag: p2pshare's own (Swarm.Metrics), libp2p's, and the
// Go runtime's and the process's, on /metrics.
package metricsweb

import (
	"context"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pshare/p2pshare/examples/internal/classweb"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// libp2pMetricsEnv turns libp2p's metrics on in the hosts p2pshare builds
// (internal/host.MetricsEnv); they go to Prometheus's default registry.
const libp2pMetricsEnv = "P2PSHARE_LIBP2P_METRICS"

// EnableLibp2p asks for libp2p's own metrics. Call it before p2pshare.New.
func EnableLibp2p() { _ = os.Setenv(libp2pMetricsEnv, "1") }

// Serve serves sw's metrics, with libp2p's and the runtime's from the
// default registry, on addr at /metrics until ctx ends.
func Serve(ctx context.Context, addr string, sw *p2pshare.Swarm) (*classweb.Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(sw.Metrics()); err != nil {
		return nil, err
	}
	// The default registry holds the Go and process collectors, and
	// libp2p's once EnableLibp2p is called.
	g := prometheus.Gatherers{reg, prometheus.DefaultGatherer}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return classweb.Listen(ctx, addr, mux)
}
