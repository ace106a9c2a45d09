package classview

import (
	"cmp"
	"slices"
	"time"
)

// States of a member on a share.
const (
	StateFetching = "fetching" // still missing pieces, and getting them
	StateDone     = "done"     // holds every piece (and seeds it to the rest)
	StateSeeding  = "seeding"  // shared it: held every piece from the start
	StateStalled  = "stalled"  // missing pieces, and none came for Config.StallAfter
	StateGone     = "gone"     // closed the share, disconnected, or silent for Config.GoneAfter
)

// Roles of a member on a share.
const (
	RoleSeeder   = "seeder"   // shared it
	RoleReceiver = "receiver" // fetches it
)

// Config tunes a View. The zero value of each field means what its comment
// says.
type Config struct {
	// StallAfter is how long a member missing pieces may go without a new
	// one before it counts as stalled. 0 means 10 s.
	StallAfter time.Duration
	// GoneAfter is how long a member may go without reporting before it
	// counts as gone. 0 means 5 s.
	GoneAfter time.Duration
	// MaxMembers bounds the members tracked per share; reports from more
	// are ignored. 0 means 4096.
	MaxMembers int
	// MaxShares bounds the shares tracked (Hold); more are ignored.
	// 0 means 1024.
	MaxShares int
	// ForgetAfter is how long a share stays in the view once it is no
	// longer held (Hold), with its members' records. 0 means 10 minutes.
	ForgetAfter time.Duration
}

// maxAge bounds how far back a report's AgeMillis may date a class's start.
const maxAge = 24 * time.Hour

// Member names who sent a report: its peer ID and the name on its
// certificate.
type Member struct {
	ID, Name string
}

// View aggregates members' reports per share. It is not safe for concurrent
// use: one goroutine owns it.
type View struct {
	cfg    Config
	shares map[string]*share
}

type share struct {
	name    string    // from the bootstrap's own manifest (Hold)
	size    int64     // likewise
	since   time.Time // when the bootstrap opened it: the class starts no earlier
	held    time.Time // when Hold last named it
	start   time.Time // when the first receiver opened it
	entries map[string]*entry
}

// entry is one member on one share.
type entry struct {
	Member
	origin                   bool
	bytes, total             int64
	uploaded, downloaded     int64
	upRate, downRate         int64
	peakUp, peakDown         int64
	upCap, downCap           int64
	stopped, disconnected    bool
	err                      string
	lastReport, lastProgress time.Time
	doneAt                   time.Time
}

// New returns an empty view.
func New(cfg Config) *View {
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 10 * time.Second
	}
	if cfg.GoneAfter <= 0 {
		cfg.GoneAfter = 5 * time.Second
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = 4096
	}
	if cfg.MaxShares <= 0 {
		cfg.MaxShares = 1024
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = 10 * time.Minute
	}
	return &View{cfg: cfg, shares: map[string]*share{}}
}

// Hold says that the bootstrap holds share id at now, with this name and
// size from its own manifest, and has since opened. Only the shares held are tracked, and their
// name and size are these, whatever members report: a member can neither
// retitle nor resize the class, nor fill the view with shares nobody holds.
func (v *View) Hold(now time.Time, id, name string, size int64, opened time.Time) {
	sh := v.shares[id]
	if sh == nil {
		if len(v.shares) >= v.cfg.MaxShares {
			return
		}
		sh = &share{entries: map[string]*entry{}, since: opened}
		v.shares[id] = sh
	}
	sh.name, sh.size, sh.held = name, size, now
}

// Expire forgets the shares not held (Hold) for Config.ForgetAfter before
// now, with their members' records.
func (v *View) Expire(now time.Time) {
	for id, sh := range v.shares {
		if now.Sub(sh.held) > v.cfg.ForgetAfter {
			delete(v.shares, id)
		}
	}
}

// Observe takes a report m sent at now. A share m reported before but not
// now was closed by m: it counts as gone. Shares not held (Hold) are
// ignored; a member's bytes and total are taken against the held size.
func (v *View) Observe(now time.Time, m Member, r Report) {
	seen := map[string]bool{}
	for _, sr := range r.Shares {
		seen[sr.Share] = true
		sh := v.shares[sr.Share]
		if sh == nil {
			continue
		}
		sr.Total, sr.Bytes = sh.size, min(sr.Bytes, sh.size)
		e := sh.entries[m.ID]
		if e == nil {
			if len(sh.entries) >= v.cfg.MaxMembers {
				continue
			}
			e = &entry{Member: m, lastProgress: now}
			sh.entries[m.ID] = e
		}
		if !sr.Origin {
			// The class starts when its first receiver opened the share,
			// and not before the bootstrap held it.
			opened := now.Add(-time.Duration(min(max(sr.AgeMillis, 0), maxAge.Milliseconds())) * time.Millisecond)
			if opened.Before(sh.since) {
				opened = sh.since
			}
			if sh.start.IsZero() || opened.Before(sh.start) {
				sh.start = opened
			}
		}
		e.update(now, m, r, sr)
	}
	for k, sh := range v.shares {
		if e := sh.entries[m.ID]; e != nil && !seen[k] {
			e.stopped = true
		}
	}
}

func (e *entry) update(now time.Time, m Member, r Report, sr ShareReport) {
	e.Name = m.Name
	if sr.Bytes > e.bytes || sr.Complete {
		e.lastProgress = now
	}
	e.origin = e.origin || sr.Origin
	e.bytes, e.total = sr.Bytes, sr.Total
	e.uploaded, e.downloaded = sr.Uploaded, sr.Downloaded
	e.upRate, e.downRate = sr.UpRate, sr.DownRate
	e.peakUp, e.peakDown = max(e.peakUp, sr.UpRate), max(e.peakDown, sr.DownRate)
	e.upCap, e.downCap = r.UploadCap, r.DownloadCap
	e.stopped, e.disconnected, e.err = sr.Stopped, false, sr.Err
	e.lastReport = now
	// Holding every byte is done, whether or not the report says so yet:
	// the row's state and the class's count of done must agree.
	if (sr.Complete || sr.Total > 0 && sr.Bytes == sr.Total) && e.doneAt.IsZero() && !e.origin {
		e.doneAt = now
	}
}

// Disconnected records that the member with this ID lost its link to the
// bootstrap: it counts as gone on every share until it reports again.
func (v *View) Disconnected(id string) {
	for _, sh := range v.shares {
		if e := sh.entries[id]; e != nil {
			e.disconnected = true
		}
	}
}

// Shares lists the shares any member reported, sorted.
func (v *View) Shares() []string {
	out := make([]string, 0, len(v.shares))
	for k := range v.shares {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// state is e's state at now.
func (v *View) state(e *entry, now time.Time) string {
	switch {
	case e.stopped || e.disconnected || now.Sub(e.lastReport) > v.cfg.GoneAfter:
		return StateGone
	case e.origin:
		return StateSeeding
	case e.total > 0 && e.bytes == e.total || !e.doneAt.IsZero():
		return StateDone
	case now.Sub(e.lastProgress) > v.cfg.StallAfter:
		return StateStalled
	}
	return StateFetching
}

// upCapacity is what e can upload per second: its cap, or the most it was
// seen to upload when it has none.
func (e *entry) upCapacity() float64 {
	if e.upCap > 0 {
		return float64(e.upCap)
	}
	return float64(e.peakUp)
}

// downCapacity is what e can download per second, in the same way.
func (e *entry) downCapacity() float64 {
	if e.downCap > 0 {
		return float64(e.downCap)
	}
	return float64(e.peakDown)
}

// Snapshot is the class on one share at a moment. Times in seconds count
// from Started, when the first receiver opened the share (by its report of
// how long it has had it open).
type Snapshot struct {
	Share   string    `json:"share"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	At      time.Time `json:"at"`
	Started time.Time `json:"started,omitzero"`
	Elapsed float64   `json:"elapsed_seconds"`
	// Receivers counts the members that fetch the share, gone ones too;
	// Done those of them that hold it all (or did before they left).
	Receivers int `json:"receivers"`
	Done      int `json:"done"`
	Fetching  int `json:"fetching"`
	Stalled   int `json:"stalled"`
	Gone      int `json:"gone"`
	// BytesMoved is the piece payload every member reported receiving.
	BytesMoved int64 `json:"bytes_moved"`
	// SeederUploaded is what the seeders sent; SeederUploadRatio that over
	// Size (1 is the least a class can be served with).
	SeederUploaded    int64   `json:"seeder_uploaded"`
	SeederUploadRatio float64 `json:"seeder_upload_over_size"`
	Bound
	// Projected is when the last receiver will finish at the rates reported
	// now, never before T*; Finished when it did. 0 when unknown or not yet.
	Projected float64       `json:"projected_seconds"`
	Finished  float64       `json:"finished_seconds"`
	Members   []MemberState `json:"members"`
}

// MemberState is one member's line in a Snapshot.
type MemberState struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Role       string  `json:"role"`
	State      string  `json:"state"`
	Percent    float64 `json:"percent"`
	Bytes      int64   `json:"bytes"`
	Total      int64   `json:"total"`
	Uploaded   int64   `json:"uploaded"`
	Downloaded int64   `json:"downloaded"`
	UpRate     float64 `json:"up_rate"`
	DownRate   float64 `json:"down_rate"`
	// Complete is set once a receiver came to hold every piece (it stays
	// set if it leaves); DoneAt is when, since Started.
	Complete bool    `json:"complete"`
	DoneAt   float64 `json:"done_seconds"`
	Error    string  `json:"error,omitempty"`
	// Silent is how long ago its last report came.
	Silent float64 `json:"silent_seconds"`
}

// Snapshot describes the class on share at now; a share nobody reported
// gives a snapshot with no members.
func (v *View) Snapshot(now time.Time, shareID string) Snapshot {
	snap := Snapshot{Share: shareID, At: now, Members: []MemberState{}}
	sh := v.shares[shareID]
	if sh == nil {
		return snap
	}
	snap.Name, snap.Size, snap.Started = sh.name, sh.size, sh.start
	if !sh.start.IsZero() {
		snap.Elapsed = now.Sub(sh.start).Seconds()
	}
	var seedUp float64
	var recvUp, recvDown []float64
	var longest, last float64
	active, unknown := 0, false
	for _, e := range sh.entries {
		ms := MemberState{
			ID: e.ID, Name: e.Name, Role: RoleReceiver, State: v.state(e, now),
			Bytes: e.bytes, Total: e.total, Uploaded: e.uploaded, Downloaded: e.downloaded,
			UpRate: float64(e.upRate), DownRate: float64(e.downRate), Error: e.err,
			Silent: now.Sub(e.lastReport).Seconds(),
		}
		if e.total > 0 {
			ms.Percent = 100 * float64(e.bytes) / float64(e.total)
		}
		snap.BytesMoved += e.downloaded
		if e.origin {
			ms.Role = RoleSeeder
			snap.SeederUploaded += e.uploaded
			if ms.State != StateGone {
				seedUp += e.upCapacity()
			}
			snap.Members = append(snap.Members, ms)
			continue
		}
		snap.Receivers++
		if ms.State != StateGone || !e.doneAt.IsZero() {
			// One that left before it finished is out of the class as it is.
			recvUp, recvDown = append(recvUp, e.upCapacity()), append(recvDown, e.downCapacity())
		}
		if !e.doneAt.IsZero() {
			ms.Complete, ms.DoneAt = true, max(e.doneAt.Sub(sh.start).Seconds(), 0)
			snap.Done++
			last = max(last, ms.DoneAt)
		}
		switch ms.State {
		case StateFetching:
			snap.Fetching++
		case StateStalled:
			snap.Stalled++
		case StateGone:
			snap.Gone++
		}
		if (ms.State == StateFetching || ms.State == StateStalled) && e.doneAt.IsZero() {
			active++
			if e.downRate > 0 {
				longest = max(longest, float64(e.total-e.bytes)/float64(e.downRate))
			} else {
				unknown = true
			}
		}
		snap.Members = append(snap.Members, ms)
	}
	slices.SortFunc(snap.Members, func(a, b MemberState) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	if snap.Size > 0 {
		snap.SeederUploadRatio = float64(snap.SeederUploaded) / float64(snap.Size)
	}
	snap.Bound = ComputeBound(snap.Size, seedUp, recvUp, recvDown)
	switch {
	case snap.Receivers > 0 && snap.Done == snap.Receivers:
		snap.Finished, snap.Projected = last, last
	case active > 0 && !unknown && !sh.start.IsZero():
		snap.Projected = max(snap.Elapsed+longest, snap.TStar)
	}
	return snap
}
