package p2pshare

import (
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/prometheus/client_golang/prometheus"
)

// connsOpened counts the node's connections as they open, by direction:
// a class whose connections are cut and redialled shows here long before
// it shows in the connections held.
type connsOpened struct {
	in, out atomic.Int64
	n       network.Network
	notify  network.Notifiee
}

// watch starts counting n's connections.
func (c *connsOpened) watch(n network.Network) {
	c.n = n
	c.notify = &network.NotifyBundle{ConnectedF: func(_ network.Network, conn network.Conn) {
		if conn.Stat().Direction == network.DirOutbound {
			c.out.Add(1)
		} else {
			c.in.Add(1)
		}
	}}
	n.Notify(c.notify)
}

// stop ends the count: a host the program brought (Config.Host) outlives
// the node.
func (c *connsOpened) stop() { c.n.StopNotify(c.notify) }

var descOpened = prometheus.NewDesc("p2pshare_connections_opened_total",
	"Connections this node opened (outbound) or accepted (inbound) since it started.", []string{"direction"}, nil)

// openedMetrics covers the connections opened.
type openedMetrics struct{ s *Swarm }

func (m openedMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- descOpened }

func (m openedMetrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descOpened, prometheus.CounterValue, float64(m.s.opened.out.Load()), "outbound")
	ch <- prometheus.MustNewConstMetric(descOpened, prometheus.CounterValue, float64(m.s.opened.in.Load()), "inbound")
}
