package p2pshare

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics returns a Prometheus collector of the node's metrics, read from
// its state at each scrape:
//
//	p2pshare_uploaded_bytes_total{share}     piece payload sent
//	p2pshare_downloaded_bytes_total{share}   piece payload received, waste included
//	p2pshare_held_bytes{share}               verified content held
//	p2pshare_size_bytes{share}               the share's content size
//	p2pshare_pieces_verified_total{share}    pieces received and verified
//	p2pshare_pieces_failed_total{share}      pieces received that failed verification
//	p2pshare_share_peers{share}              peers trading the share
//	p2pshare_share_info{share,name}          1, naming the share
//	p2pshare_peers_connected                 peers with a connection to the node
//	p2pshare_connections_opened_total{direction}  connections opened (outbound) and accepted (inbound)
//	p2pshare_admissions_total{result}        joins and renewals accepted or refused (bootstrap)
//	p2pshare_class_members{share,state}      members per state, as the class view sees them (bootstrap)
//	p2pshare_directory_listed_total          member directory entries stored for the members met (bootstrap)
//
// share is the infohash. A share's counters start when the node opens it
// and go when it is closed. Register it with a prometheus.Registry and
// serve that (promhttp); libp2p's own metrics can go in the same registry.
func (s *Swarm) Metrics() prometheus.Collector { return nodeMetrics{s} }

// metricSources are the node's metric families, each a small collector of
// its own; a new family (the DHT's keys held and republished, messages
// delivered) is one more line here.
func (s *Swarm) metricSources() []prometheus.Collector {
	return []prometheus.Collector{shareMetrics{s}, peerMetrics{s}, openedMetrics{s}, admissionMetrics{s}, classMetrics{s}, dhtMetrics{s}, messageMetrics{s}}
}

// nodeMetrics fans out to every source.
type nodeMetrics struct{ s *Swarm }

func (n nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range n.s.metricSources() {
		c.Describe(ch)
	}
}

func (n nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range n.s.metricSources() {
		c.Collect(ch)
	}
}

var (
	shareLabel = []string{"share"}
	descUp     = prometheus.NewDesc("p2pshare_uploaded_bytes_total", "Piece payload this node sent to other members, per share.", shareLabel, nil)
	descDown   = prometheus.NewDesc("p2pshare_downloaded_bytes_total", "Piece payload this node received, waste included, per share.", shareLabel, nil)
	descHeld   = prometheus.NewDesc("p2pshare_held_bytes", "Verified content bytes this node holds, per share.", shareLabel, nil)
	descSize   = prometheus.NewDesc("p2pshare_size_bytes", "Content size of the share.", shareLabel, nil)
	descOK     = prometheus.NewDesc("p2pshare_pieces_verified_total", "Pieces this node received and verified, per share.", shareLabel, nil)
	descBad    = prometheus.NewDesc("p2pshare_pieces_failed_total", "Pieces this node received that failed verification (their senders are banned), per share.", shareLabel, nil)
	descPeers  = prometheus.NewDesc("p2pshare_share_peers", "Peers this node trades the share with.", shareLabel, nil)
	descInfo   = prometheus.NewDesc("p2pshare_share_info", "Always 1; names the share.", []string{"share", "name"}, nil)
	descConns  = prometheus.NewDesc("p2pshare_peers_connected", "Peers with a connection to this node.", nil, nil)
	descAdmit  = prometheus.NewDesc("p2pshare_admissions_total", "Joins and certificate renewals the bootstrap decided, by result (accepted or refused).", []string{"result"}, nil)
	descClass  = prometheus.NewDesc("p2pshare_class_members", "Members reporting a share to the bootstrap, by state (fetching, done, seeding, stalled, gone).", []string{"share", "state"}, nil)
)

// shareMetrics covers the node's open shares.
type shareMetrics struct{ s *Swarm }

func (m shareMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descDown, descHeld, descSize, descOK, descBad, descPeers, descInfo} {
		ch <- d
	}
}

func (m shareMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, tr := range m.s.class.sessions() {
		select {
		case <-tr.se.Done():
			continue // closed: its series go (a reopened share starts afresh)
		default:
		}
		ih := tr.se.Infohash().String()
		p := tr.se.Progress()
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.CounterValue, float64(p.Uploaded), ih)
		ch <- prometheus.MustNewConstMetric(descDown, prometheus.CounterValue, float64(p.Downloaded), ih)
		ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(p.Bytes), ih)
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(p.TotalBytes), ih)
		ch <- prometheus.MustNewConstMetric(descOK, prometheus.CounterValue, float64(p.Verified), ih)
		ch <- prometheus.MustNewConstMetric(descBad, prometheus.CounterValue, float64(p.Failed), ih)
		ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(p.Peers), ih)
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, ih, tr.se.Manifest().Name)
	}
}

// peerMetrics covers the node's connections.
type peerMetrics struct{ s *Swarm }

func (m peerMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- descConns }

func (m peerMetrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(len(m.s.h.Network().Peers())))
}

// admissionMetrics covers the bootstrap's admission decisions; a member
// has none.
type admissionMetrics struct{ s *Swarm }

func (m admissionMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- descAdmit }

func (m admissionMetrics) Collect(ch chan<- prometheus.Metric) {
	if m.s.net.boot == nil {
		return
	}
	ok, refused := m.s.net.boot.Admissions()
	ch <- prometheus.MustNewConstMetric(descAdmit, prometheus.CounterValue, float64(ok), "accepted")
	ch <- prometheus.MustNewConstMetric(descAdmit, prometheus.CounterValue, float64(refused), "refused")
}

// classMetrics covers the class view on the bootstrap.
type classMetrics struct{ s *Swarm }

func (m classMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- descClass }

func (m classMetrics) Collect(ch chan<- prometheus.Metric) {
	v := m.s.class.view
	if v == nil {
		return
	}
	reply := make(chan map[string]map[string]int, 1)
	select {
	case v.counts <- reply:
	case <-v.done:
		return
	}
	for share, byState := range <-reply {
		for state, n := range byState {
			ch <- prometheus.MustNewConstMetric(descClass, prometheus.GaugeValue, float64(n), share, state)
		}
	}
}
