package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// jsonEvery is the least time between two JSON progress events.
const jsonEvery = time.Second

// reporter shows a download's course: a redrawn line on a terminal, JSON
// lines with -json, a plain summary line otherwise. It is not safe for
// concurrent use.
type reporter struct {
	stdout io.Writer
	json   bool
	status *console.Status // nil unless stderr is a terminal
	start  time.Time       // when the lookup began
	found  time.Time       // when the lookup ended

	lastJSON time.Time
	lastSent p2pshare.Progress
	metrics  string          // the -metrics server's address, if any
	peer     p2pshare.PeerID // this node's peer ID
	addrs    []ma.Multiaddr  // and its listen multiaddrs
}

// The -json events, one per line.
type (
	startEvent struct {
		Event         string          `json:"event"`
		Infohash      string          `json:"infohash"`
		Name          string          `json:"name"`
		Total         int64           `json:"total"`
		Pieces        int             `json:"pieces"`
		Path          string          `json:"path"`
		LookupSeconds float64         `json:"lookup_seconds"`
		Peer          p2pshare.PeerID `json:"peer"`              // this node's peer ID
		Addrs         []ma.Multiaddr  `json:"addrs"`             // its listen multiaddrs, with /p2p/<peer>
		Metrics       string          `json:"metrics,omitempty"` // where -metrics serves
	}
	progressEvent struct {
		Event    string  `json:"event"`
		Bytes    int64   `json:"bytes"`
		Total    int64   `json:"total"`
		Pieces   int     `json:"pieces"`
		Peers    int     `json:"peers"`
		DownRate float64 `json:"down_rate"`
		UpRate   float64 `json:"up_rate"`
		Uploaded int64   `json:"uploaded"`
	}
	// waitingEvent reports what a download that receives nothing waits
	// for ("waiting"), and that data flows again ("resumed", no "for").
	waitingEvent struct {
		Event  string `json:"event"`
		For    string `json:"for,omitempty"`
		Pieces int    `json:"pieces"`
		Peers  int    `json:"peers"`
	}
	// errorEvent is the last event of a run that failed: its exit status,
	// the kind of failure (console.ExitOf) and the message.
	errorEvent struct {
		Event string `json:"event"`
		Code  int    `json:"code"`
		Kind  string `json:"kind"`
		Error string `json:"error"`
	}
	doneEvent struct {
		Event      string  `json:"event"`
		Seconds    float64 `json:"seconds"` // from the start of the lookup
		Bytes      int64   `json:"bytes"`
		Downloaded int64   `json:"downloaded"`
		Uploaded   int64   `json:"uploaded"`
		Path       string  `json:"path"`
	}
)

func (r *reporter) emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain fields: cannot happen
	}
	fmt.Fprintf(r.stdout, "%s\n", b)
}

// seconds is d in seconds, to the millisecond, for JSON.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func (r *reporter) started(d *p2pshare.Download) {
	r.found = time.Now()
	p := d.Progress()
	if r.json {
		r.emit(startEvent{
			Event: "start", Infohash: d.Infohash().String(), Name: d.Name(),
			Total: d.Size(), Pieces: p.TotalPieces, Path: d.Path(),
			LookupSeconds: seconds(r.found.Sub(r.start)), Peer: r.peer, Addrs: r.addrs, Metrics: r.metrics,
		})
	}
	r.progress(r.found, p, false)
}

// progress reports a snapshot; JSON events are throttled to one per
// jsonEvery, and skipped while nothing changes.
func (r *reporter) progress(now time.Time, p p2pshare.Progress, complete bool) {
	if r.status != nil {
		r.status.Draw(barLine(now.Sub(r.found), p, complete, r.status.Columns()))
	}
	if !r.json || now.Sub(r.lastJSON) < jsonEvery {
		return
	}
	if p.Bytes == r.lastSent.Bytes && p.Uploaded == r.lastSent.Uploaded && p.Peers == r.lastSent.Peers {
		return
	}
	r.lastJSON, r.lastSent = now, p
	r.emit(progressEvent{
		Event: "progress", Bytes: p.Bytes, Total: p.TotalBytes, Pieces: p.Pieces,
		Peers: p.Peers, DownRate: math.Round(p.DownRate), UpRate: math.Round(p.UpRate),
		Uploaded: p.Uploaded,
	})
}

// waiting reports a change in what the download waits for: on the
// terminal line at once, and as a JSON event, never throttled.
func (r *reporter) waiting(now time.Time, p p2pshare.Progress) {
	if r.status != nil {
		r.status.Draw(barLine(now.Sub(r.found), p, false, r.status.Columns()))
	}
	if !r.json {
		return
	}
	e := waitingEvent{Event: "waiting", For: p.Waiting.String(), Pieces: p.Pieces, Peers: p.Peers}
	if p.Waiting == p2pshare.NotWaiting {
		e.Event, e.For = "resumed", ""
	}
	r.emit(e)
}

// barLine is the terminal line: percent, bar, bytes, rates, peers, and the
// ETA or, while the download receives nothing, what it waits for. The bar
// takes what room cols columns (0 unknown) leave it.
func barLine(elapsed time.Duration, p p2pshare.Progress, complete bool, cols int) string {
	if complete {
		return fmt.Sprintf("seeding %s  up %s/s  uploaded %s  peers %d",
			flagx.FormatBytes(p.TotalBytes), flagx.FormatBytes(int64(p.UpRate)),
			flagx.FormatBytes(p.Uploaded), p.Peers)
	}
	pct := 100.0
	if p.TotalBytes > 0 {
		pct = 100 * float64(p.Bytes) / float64(p.TotalBytes)
	}
	eta := "ETA ?"
	if p.DownRate > 0 {
		eta = "ETA " + console.Duration(time.Duration(float64(p.TotalBytes-p.Bytes)/p.DownRate*float64(time.Second)))
	}
	if p.Waiting != p2pshare.NotWaiting {
		eta = "waiting: " + p.Waiting.String()
	}
	head := fmt.Sprintf("%5.1f%%", pct)
	rest := fmt.Sprintf("%s / %s  down %s/s  up %s/s  peers %d  %s  %s",
		flagx.FormatBytes(p.Bytes), flagx.FormatBytes(p.TotalBytes),
		flagx.FormatBytes(int64(p.DownRate)), flagx.FormatBytes(int64(p.UpRate)),
		p.Peers, console.Duration(elapsed), eta)
	return withBar(head, p.Bytes, p.TotalBytes, rest, cols)
}

// withBar is head, a bar of done out of total as wide as cols columns
// leave room for, and rest.
func withBar(head string, done, total int64, rest string, cols int) string {
	w := console.BarWidth(cols, utf8.RuneCountInString(head)+utf8.RuneCountInString(rest)+2)
	return head + " " + console.Bar(done, total, w) + " " + rest
}

// done reports completion.
func (r *reporter) done(d *p2pshare.Download) {
	now := time.Now()
	p := d.Progress()
	took := now.Sub(r.start)
	if r.status != nil {
		r.status.End(withBar("100.0%", 1, 1, fmt.Sprintf("%s in %s (%s/s)",
			flagx.FormatBytes(p.TotalBytes), console.Duration(took),
			flagx.FormatBytes(int64(float64(p.TotalBytes)/now.Sub(r.found).Seconds()))), r.status.Columns()))
	}
	if r.json {
		r.emit(doneEvent{
			Event: "done", Seconds: seconds(took), Bytes: p.Bytes,
			Downloaded: p.Downloaded, Uploaded: p.Uploaded, Path: d.Path(),
		})
	} else {
		fmt.Fprintf(r.stdout, "fetched %s (%s) to %s in %s\n",
			d.Name(), flagx.FormatBytes(p.TotalBytes), d.Path(), console.Duration(took))
	}
	r.lastSent = p
}

// end leaves the terminal on a fresh line.
func (r *reporter) end() {
	if r.status != nil {
		r.status.End("")
	}
}
