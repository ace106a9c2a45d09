package p2pshare

import (
	"bufio"
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/classview"
	"github.com/p2pshare/p2pshare/internal/manifest"
)

// ClassSnapshot is the class on one share at a moment, as the bootstrap
// sees it from its members' status reports: per member its name, role
// ("seeder" for a member that shared it, "receiver" for one that fetches
// it), percent, rates and state; per share how many receivers are done,
// the bytes moved, the seeders' upload over the share's size, the elapsed
// time, the lower bound T* for the class as it is and the projected finish.
// It marshals to the JSON the teacher's page reads.
//
// A member's state is one of "fetching", "done" (holds it all, and seeds
// it), "seeding" (shared it), "stalled" (missing pieces, and none came for
// 15 s) or "gone" (closed the share, lost its link to the bootstrap, or sent
// no report for 10 s). T* and the one-server time use each member's
// configured caps (Config.UploadLimit, Config.DownloadLimit), or for a
// member with none the highest rate it reported; see ClassBound.
//
// Its fields, with their JSON names:
//
//	Share             string        // "share": the infohash
//	Name              string        // "name": the share's name
//	Size              int64         // "size": its content size in bytes
//	At                time.Time     // "at": when the snapshot was taken
//	Started           time.Time     // "started": when the first receiver opened the share (zero before)
//	Elapsed           float64       // "elapsed_seconds": since Started
//	Receivers         int           // "receivers": members that fetch the share, gone ones too
//	Done              int           // "done": receivers that hold it all (or did before they left)
//	Fetching          int           // "fetching"
//	Stalled           int           // "stalled"
//	Gone              int           // "gone"
//	BytesMoved        int64         // "bytes_moved": the piece payload every member reported receiving
//	SeederUploaded    int64         // "seeder_uploaded": what the seeders sent
//	SeederUploadRatio float64       // "seeder_upload_over_size": SeederUploaded over Size (1 is the least a class can be served with)
//	Bound             ClassBound    // embedded: TStar, Term and OneServer are the snapshot's own
//	Projected         float64       // "projected_seconds": when the last receiver will finish at the rates reported now, never before T*; 0 when unknown
//	Finished          float64       // "finished_seconds": when it did; 0 until then
//	Members           []ClassMember // "members"
type ClassSnapshot = classview.Snapshot

// ClassMember is one member's line in a ClassSnapshot. Its fields, with
// their JSON names:
//
//	ID         string  // "id": the peer ID
//	Name       string  // "name": the member name
//	Role       string  // "role": "seeder" or "receiver"
//	State      string  // "state": "fetching", "done", "seeding", "stalled" or "gone"
//	Percent    float64 // "percent": of the share held
//	Bytes      int64   // "bytes": held
//	Total      int64   // "total": the share's size
//	Uploaded   int64   // "uploaded"
//	Downloaded int64   // "downloaded"
//	UpRate     float64 // "up_rate": bytes per second
//	DownRate   float64 // "down_rate": bytes per second
//	Complete   bool    // "complete": set once a receiver came to hold every piece (it stays set if it leaves)
//	DoneAt     float64 // "done_seconds": when, since the snapshot's Started
//	Error      string  // "error": why its fetch failed, if it did
//	Silent     float64 // "silent_seconds": how long ago its last report came
type ClassMember = classview.MemberState

// ClassBound is T*, the term of it that binds, and the one-server time, in
// seconds (0 where unknown):
//
//	T* = max( F/U_s , F/D_min , N·F / (U_s + Σ U_i) )
//
// Its fields, with their JSON names:
//
//	TStar     float64 // "tstar_seconds": T*
//	Term      string  // "tstar_term": the term that binds: "seeder" (F/U_s), "download" (F/D_min) or "swarm" (N·F/(U_s+ΣU_i))
//	OneServer float64 // "one_server_seconds": the seeders sending every receiver its own copy, max(N·F/U_s, F/D_min)
type ClassBound = classview.Bound

// Thresholds of the class view.
const (
	classStallAfter = 15 * time.Second
	classGoneAfter  = 10 * time.Second
	classPublish    = 500 * time.Millisecond // snapshots to watchers
	// classMinReport is the least time between two reports heeded from one
	// status stream: a member reports once a second, or at once on a
	// change, so only a flood comes faster.
	classMinReport = 20 * time.Millisecond
)

// errNotBootstrap is returned by the class API on a node that is not its
// network's bootstrap nor a coordinator: only they hear members' reports.
var errNotBootstrap = errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node and its coordinators see the class")

// Class returns a snapshot of the class on a share: every member that
// reported it. Only the bootstrap node and the coordinators of its group
// (each with the whole class: members report to all of them) see the
// class, and only on the shares they hold themselves (shared or fetched):
// their name and size are the node's own manifest's, whatever members
// report, and a share it closed leaves the view ten minutes later.
func (s *Swarm) Class(infohash Infohash) (ClassSnapshot, error) {
	v := s.class.view
	if v == nil {
		return ClassSnapshot{}, errNotBootstrap
	}
	reply := make(chan ClassSnapshot, 1)
	select {
	case v.asks <- classAsk{share: infohash.String(), reply: reply}:
		return <-reply, nil
	case <-v.done:
		return ClassSnapshot{}, ErrClosed
	}
}

// WatchClass returns a channel of snapshots of the class on a share: one at
// once, then one about every half second. A reader that falls behind gets
// the newest snapshot, not every one. The channel closes when ctx ends or
// the node closes. Only the bootstrap node and its coordinators see the
// class.
func (s *Swarm) WatchClass(ctx context.Context, infohash Infohash) (<-chan ClassSnapshot, error) {
	v := s.class.view
	if v == nil {
		return nil, errNotBootstrap
	}
	w := &classWatcher{share: infohash.String(), ctx: ctx, c: make(chan ClassSnapshot, 1)}
	select {
	case v.watches <- w:
		return w.c, nil
	case <-v.done:
		return nil, ErrClosed
	}
}

// classAggregator runs on the bootstrap: it serves the status protocol and
// owns the classview.View every report goes into.
type classAggregator struct {
	c       *classStatus
	events  chan classEvent
	asks    chan classAsk
	watches chan *classWatcher
	counts  chan chan map[string]map[string]int // members per share and state, for metrics
	done    chan struct{}                       // closed when run returns
	seq     atomic.Uint64                       // numbers the status streams
	heeded  atomic.Uint64                       // members' reports taken into the view
}

// classEvent is a member's report, or the end of one of its status streams.
type classEvent struct {
	from   peer.ID
	name   string
	stream uint64 // which of the member's status streams
	report *classview.Report
	at     time.Time
}

type classAsk struct {
	share string
	reply chan ClassSnapshot
}

type classWatcher struct {
	share string
	ctx   context.Context
	c     chan ClassSnapshot
}

func newClassAggregator(c *classStatus) *classAggregator {
	a := &classAggregator{
		c: c, events: make(chan classEvent, 256), asks: make(chan classAsk),
		watches: make(chan *classWatcher), counts: make(chan chan map[string]map[string]int),
		done: make(chan struct{}),
	}
	c.s.net.m.Guard(c.s.h).SetStreamHandler(statusProtocol, a.handle)
	return a
}

// stop stops serving the status protocol.
func (a *classAggregator) stop() { a.c.s.h.RemoveStreamHandler(statusProtocol) }

// handle reads one member's status stream until it ends.
func (a *classAggregator) handle(st network.Stream) {
	p := st.Conn().RemotePeer()
	name := a.c.s.memberName(p)
	id := a.seq.Add(1)
	br := bufio.NewReader(st)
	var last time.Time
	for {
		_ = st.SetReadDeadline(time.Now().Add(classGoneAfter))
		b, err := readReportFrame(br)
		var r classview.Report
		if err == nil {
			r, err = classview.DecodeReport(b)
		}
		if err != nil {
			a.c.s.log.Debug("status stream ended", "peer", p, "err", err)
			_ = st.Reset()
			a.post(classEvent{from: p, stream: id, at: time.Now()})
			return
		}
		now := time.Now()
		if now.Sub(last) < classMinReport {
			continue // faster than any member reports: read, not heeded
		}
		last = now
		r.Shares = slices.DeleteFunc(r.Shares, func(sr classview.ShareReport) bool {
			_, err := manifest.ParseInfohash(sr.Share)
			return err != nil
		})
		a.post(classEvent{from: p, name: name, stream: id, report: &r, at: now})
	}
}

func (a *classAggregator) post(e classEvent) {
	select {
	case a.events <- e:
	case <-a.done:
	}
}

// run owns the view: it takes reports, answers questions and feeds the
// watchers until the node closes.
func (a *classAggregator) run() {
	defer close(a.done)
	v := classview.New(classview.Config{StallAfter: classStallAfter, GoneAfter: classGoneAfter})
	self := classview.Member{ID: a.c.s.h.ID().String(), Name: a.c.s.h.ID().String()}
	if own := a.c.s.net.m.Own(); own != nil {
		self.Name = own.Name
	}
	latest := map[peer.ID]uint64{} // each member's newest status stream
	watchers := map[*classWatcher]bool{}
	defer func() {
		for w := range watchers {
			close(w.c)
		}
	}()
	t := time.NewTicker(classPublish)
	defer t.Stop()
	ended := make(chan *classWatcher)
	for {
		select {
		case <-a.c.ctx.Done():
			return
		case e := <-a.events:
			switch {
			case e.report != nil:
				latest[e.from] = max(latest[e.from], e.stream)
				v.Observe(e.at, classview.Member{ID: e.from.String(), Name: e.name}, *e.report)
				a.heeded.Add(1)
			case latest[e.from] == e.stream:
				v.Disconnected(e.from.String())
			}
		case q := <-a.asks:
			now := time.Now()
			observeSelf(v, now, self, a.c.ownReport(now))
			q.reply <- v.Snapshot(now, q.share)
		case q := <-a.counts:
			now := time.Now()
			out := map[string]map[string]int{}
			for _, share := range v.Shares() {
				byState := map[string]int{}
				for _, st := range []string{classview.StateFetching, classview.StateDone, classview.StateSeeding, classview.StateStalled, classview.StateGone} {
					byState[st] = 0
				}
				for _, m := range v.Snapshot(now, share).Members {
					byState[m.State]++
				}
				out[share] = byState
			}
			q <- out
		case w := <-a.watches:
			watchers[w] = true
			w.c <- v.Snapshot(time.Now(), w.share)
			go func() {
				select {
				case <-w.ctx.Done():
					select {
					case ended <- w:
					case <-a.done:
					}
				case <-a.done:
				}
			}()
		case w := <-ended:
			delete(watchers, w)
			close(w.c)
		case now := <-t.C:
			observeSelf(v, now, self, a.c.ownReport(now))
			for w := range watchers {
				snap := v.Snapshot(now, w.share)
				select { // the newest replaces one not yet read
				case <-w.c:
				default:
				}
				w.c <- snap
			}
		}
	}
}

// observeSelf takes the bootstrap's own report r into v: the shares it
// holds, with the name and size of its own manifests (the only shares the
// view tracks), and its own line on each. Shares it stopped holding are
// forgotten some minutes on.
func observeSelf(v *classview.View, now time.Time, self classview.Member, r classview.Report) {
	for _, sr := range r.Shares {
		if !sr.Stopped {
			v.Hold(now, sr.Share, sr.Name, sr.Total, now.Add(-time.Duration(sr.AgeMillis)*time.Millisecond))
		}
	}
	v.Expire(now)
	v.Observe(now, self, r)
}
