package p2pshare

import "github.com/prometheus/client_golang/prometheus"

var (
	descRecords   = prometheus.NewDesc("p2pshare_dht_records_held", "DHT records (manifests, the revocation list, directory entries) this node held at the end of its last republish round.", nil, nil)
	descRepub     = prometheus.NewDesc("p2pshare_dht_republished_total", "Records this node re-stored on a node among a key's k closest that lacked it.", nil, nil)
	descHandOff   = prometheus.NewDesc("p2pshare_dht_handoffs_total", "Records this node handed to a newcomer, or to the k closest before dropping them.", nil, nil)
	descDropped   = prometheus.NewDesc("p2pshare_dht_dropped_total", "Records this node dropped because it was no longer among their k closest nodes.", nil, nil)
	descExpired   = prometheus.NewDesc("p2pshare_dht_expired_total", "Records this node dropped because their publisher stopped refreshing them.", nil, nil)
	descLookups   = prometheus.NewDesc("p2pshare_dht_lookups_total", "Iterative lookups of republish rounds.", nil, nil)
	descLRounds   = prometheus.NewDesc("p2pshare_dht_lookup_rounds_total", "Sum of the rounds (query depth) of those lookups.", nil, nil)
	descLSeconds  = prometheus.NewDesc("p2pshare_dht_lookup_seconds_total", "Sum of the durations of those lookups.", nil, nil)
	descListed    = prometheus.NewDesc("p2pshare_directory_listed_total", "Directory entries the bootstrap stored for the members it met.", nil, nil)
	descMsgIn     = prometheus.NewDesc("p2pshare_messages_delivered_total", "Private messages delivered to this node, each once.", nil, nil)
	descMsgBad    = prometheus.NewDesc("p2pshare_messages_refused_total", "Private messages refused: tampered, forged, not for this node, or from a non-member.", nil, nil)
	descMsgSent   = prometheus.NewDesc("p2pshare_messages_sent_total", "Private messages sent, by how: direct to the recipient, or parked for an offline one.", []string{"via"}, nil)
	descMsgParked = prometheus.NewDesc("p2pshare_inbox_parked_messages", "Messages this node holds for offline members.", nil, nil)
)

// dhtMetrics covers the replication of DHT records.
type dhtMetrics struct{ s *Swarm }

func (m dhtMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descRepub, descHandOff, descDropped, descExpired, descLookups, descLRounds, descLSeconds, descListed} {
		ch <- d
	}
}

func (m dhtMetrics) Collect(ch chan<- prometheus.Metric) {
	st := m.s.dht.Stats()
	ch <- prometheus.MustNewConstMetric(descRecords, prometheus.GaugeValue, float64(st.KeysHeld))
	for d, v := range map[*prometheus.Desc]uint64{descRepub: st.Republishes, descHandOff: st.HandOffs, descDropped: st.Drops, descExpired: st.Expired, descLookups: st.Lookups, descLRounds: st.LookupRounds} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	ch <- prometheus.MustNewConstMetric(descLSeconds, prometheus.CounterValue, st.LookupTime.Seconds())
	if d := m.s.dir; d != nil {
		ch <- prometheus.MustNewConstMetric(descListed, prometheus.CounterValue, float64(d.stored.Load()))
	}
}

// messageMetrics covers private messages.
type messageMetrics struct{ s *Swarm }

func (m messageMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMsgIn, descMsgBad, descMsgSent, descMsgParked} {
		ch <- d
	}
}

func (m messageMetrics) Collect(ch chan<- prometheus.Metric) {
	g := m.s.msg
	if g == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descMsgIn, prometheus.CounterValue, float64(g.delivered.Load()))
	ch <- prometheus.MustNewConstMetric(descMsgBad, prometheus.CounterValue, float64(g.refused.Load()))
	ch <- prometheus.MustNewConstMetric(descMsgSent, prometheus.CounterValue, float64(g.sentDirect.Load()), "direct")
	ch <- prometheus.MustNewConstMetric(descMsgSent, prometheus.CounterValue, float64(g.sentParked.Load()), "parked")
	n := 0
	for _, o := range g.box.Owners() {
		n += len(g.box.IDs(o))
	}
	ch <- prometheus.MustNewConstMetric(descMsgParked, prometheus.GaugeValue, float64(n))
}
