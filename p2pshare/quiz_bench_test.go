package p2pshare

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	ihost "github.com/p2pshare/p2pshare/internal/host"
	"github.com/p2pshare/p2pshare/internal/manifest"
)

// envQuizProf, if set, names a folder where BenchmarkQuiz writes a CPU
// profile (cpu.pprof) and an execution trace (trace.out) of its timed part
// alone, from the go-ahead to the last member done: go test's -cpuprofile
// and -trace would also cover the fifty joins.
const envQuizProf = "P2PSHARE_QUIZ_PROF"

// envQuizLog, if set, names a file where BenchmarkQuiz's nodes write their
// debug log, stamped with the time since the go-ahead would be best but
// wall clock is what slog gives; the go-ahead is logged too.
const envQuizLog = "P2PSHARE_QUIZ_LOG"

// envQuizTimeline, if set, makes BenchmarkQuiz -v log every event but
// progress snapshots of members 0 to 2, stamped from the go-ahead.
const envQuizTimeline = "P2PSHARE_QUIZ_TIMELINE"

// envQuizCurve, if set, makes BenchmarkQuiz -v log the class's pieces
// verified in each 50 ms from the go-ahead, and the seeder's upload every
// 10 ms while it changes: where the class idles, and when the seeder
// starts.
const envQuizCurve = "P2PSHARE_QUIZ_CURVE"

// envQuizDataDir, if set, gives every node of BenchmarkQuiz a DataDir of
// its own, as the examples' nodes have: their identity, credentials and
// datastore on disk instead of in memory.
const envQuizDataDir = "P2PSHARE_QUIZ_DATADIR"

// quizLog is the nodes' logger: debug to envQuizLog's file, or nil (the
// default logger) without it.
func quizLog(b *testing.B) *slog.Logger {
	name := os.Getenv(envQuizLog)
	if name == "" {
		return slog.New(slog.DiscardHandler)
	}
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// profileQuiz starts the profile and trace envQuizProf asks for and returns
// what stops them.
func profileQuiz(b *testing.B) (stop func()) {
	dir := os.Getenv(envQuizProf)
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	tr, err := os.Create(filepath.Join(dir, "trace.out"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	if err := trace.Start(tr); err != nil {
		b.Fatal(err)
	}
	return func() {
		trace.Stop()
		pprof.StopCPUProfile()
		cpu.Close()
		tr.Close()
	}
}

// BenchmarkQuiz is the exam app's case in one process: a 2 MiB quiz to 50
// members, already joined, who all fetch it at one instant (seeder up 8
// MiB/s, members up 4 and down 8 MiB/s; T* = 0.48 s). It reports the
// medians and maxima of three phases from the go-ahead: the manifest
// resolved (Fetch returned), the first verified piece, done; the seeder's
// upload over F; and the connections each member holds when the last is
// done and connsSettle later (conns-median, conns-max), untimed.
//
//	go test -run '^$' -bench Quiz -benchtime 1x ./p2pshare
func BenchmarkQuiz(b *testing.B) {
	const n, size = 50, 2 << 20
	for range b.N {
		b.StopTimer()
		log := quizLog(b)
		dataDir := func(c *Config) {
			if os.Getenv(envQuizDataDir) != "" {
				c.DataDir = b.TempDir()
			}
		}
		joinStart := time.Now()
		// The default re-announcement interval, not the tests' 2 s, as
		// the class's connections depend on it.
		boot := testNode(b, nil, func(c *Config) { c.UploadLimit = 8 << 20; c.Logger = log; c.ProvideInterval = 0; dataDir(c) })
		nodes := make([]*Swarm, n)
		var wg sync.WaitGroup
		// Joins run a few at a time: fifty at once can starve the
		// bootstrap's admissions past the join timeout on a busy machine,
		// and how the class joined is not what this measures.
		joining := make(chan struct{}, 8)
		for i := range nodes {
			wg.Go(func() {
				joining <- struct{}{}
				defer func() { <-joining }()
				nodes[i] = testNode(b, boot, func(c *Config) {
					c.UploadLimit = 4 << 20
					c.DownloadLimit = 8 << 20
					c.Logger = log
					c.ProvideInterval = 0
					dataDir(c)
				})
			})
		}
		wg.Wait()
		// Untimed, as the go-ahead is what the quiz measures from, but
		// reported: what the class's joins took, a few at a time.
		b.ReportMetric(time.Since(joinStart).Seconds(), "join-s")
		for _, nd := range nodes {
			if nd == nil {
				b.FailNow() // testNode said why
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		src, _ := randomFile(b, b.TempDir(), size)
		ih, err := boot.Share(ctx, src, ShareOptions{})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		timeline := os.Getenv(envQuizTimeline) != ""
		// The joins' garbage is collected now, not in the quiz's first
		// tenth of a second: fifty members' heaps are one here, where
		// each would be its own on its machine.
		runtime.GC()
		stopProfile := profileQuiz(b)
		b.StartTimer()
		var cpu0 time.Duration
		if processCPU != nil {
			cpu0 = processCPU()
		}
		start := time.Now()
		log.Info("go-ahead")
		var resolved, first, done [n]time.Duration
		curve := os.Getenv(envQuizCurve) != ""
		var curveMu sync.Mutex
		var verified []time.Duration // every member's pieces, when verified
		pieceSize := manifest.PieceSizeFor(size)
		stopSeeder := make(chan struct{})
		var seederLog sync.WaitGroup
		if curve {
			seederLog.Go(func() { logSeeder(b, boot, ih, pieceSize, start, stopSeeder) })
		}
		for i, nd := range nodes {
			wg.Go(func() {
				d, err := nd.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, fmt.Sprint(i))})
				if err != nil {
					b.Error(err)
					return
				}
				resolved[i] = time.Since(start)
				for e := range d.Events() {
					if timeline && i < 3 && e.Kind != EventProgress {
						b.Logf("member %d at %6.3fs: %s %s piece %d", i, time.Since(start).Seconds(), e.Kind, e.Peer.ShortString(), e.Piece)
					}
					if curve && e.Kind == EventPiece {
						curveMu.Lock()
						verified = append(verified, time.Since(start))
						curveMu.Unlock()
					}
					if e.Kind == EventPiece && first[i] == 0 {
						first[i] = time.Since(start)
					}
					if e.Kind == EventComplete {
						break
					}
				}
				if err := d.Wait(ctx); err != nil {
					b.Error(err)
				}
				done[i] = time.Since(start)
			})
		}
		wg.Wait()
		b.StopTimer()
		if processCPU != nil {
			// CPU steadier than the makespan on a shared machine: what
			// the class's nodes spent from the go-ahead to the last done.
			b.ReportMetric((processCPU() - cpu0).Seconds(), "cpu-s")
		}
		stopProfile()
		close(stopSeeder)
		seederLog.Wait()
		if curve {
			logCurve(b, verified, pieceSize, 50*time.Millisecond)
		}
		for i, nd := range nodes {
			p, _ := nd.Progress(ih)
			b.Logf("member %2d: resolved %5.2fs  first piece %5.2fs  done %5.2fs  peers %2d  up %4.2f×F",
				i, resolved[i].Seconds(), first[i].Seconds(), done[i].Seconds(), p.Peers, float64(p.Uploaded)/size)
		}
		report := func(name string, ds []time.Duration) {
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(ds[len(ds)/2].Seconds(), name+"-median-s")
			b.ReportMetric(ds[len(ds)-1].Seconds(), name+"-max-s")
		}
		report("resolved", resolved[:])
		report("first-piece", first[:])
		report("done", done[:])
		p, _ := boot.Progress(ih)
		b.ReportMetric(float64(p.Uploaded)/size, "seeder-up/F")
		var down int64
		for _, nd := range nodes {
			p, _ := nd.Progress(ih)
			down += p.Downloaded
		}
		// Piece payload the class took in over N·F: above 1 by the
		// duplicates (endgame, take-overs, pieces crossing a Cancel).
		b.ReportMetric(float64(down)/(n*size), "down/NF")
		b.ReportMetric(done[n-1].Seconds()/0.48, "makespan/T*")
		reportConns(b, nodes)
		cancel()
		for _, nd := range nodes {
			nd.Close()
		}
		boot.Close()
	}
}

// logSeeder logs the seeder's upload, in pieces of pieceSize bytes, and
// its links every 10 ms from start while the upload changes, until stop
// closes.
func logSeeder(b *testing.B, boot *Swarm, ih Infohash, pieceSize int64, start time.Time, stop <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := int64(-1)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		p, _ := boot.Progress(ih)
		if p.Uploaded != last {
			last = p.Uploaded
			b.Logf("seeder at %5.3fs: %3d pieces up, %2d links", time.Since(start).Seconds(), p.Uploaded/pieceSize, p.Peers)
		}
	}
}

// logCurve logs how many pieces (of pieceSize bytes) the class verified in
// each bin of width w, with the running total and the rate.
func logCurve(b *testing.B, verified []time.Duration, pieceSize int64, w time.Duration) {
	slices.Sort(verified)
	total := 0
	for k := 0; total < len(verified); k++ {
		end := time.Duration(k+1) * w
		c := 0
		for total+c < len(verified) && verified[total+c] < end {
			c++
		}
		total += c
		b.Logf("class by %5.2fs: %4d pieces (%5d in all), %6.1f MiB/s", end.Seconds(), c, total, float64(c)*float64(pieceSize)/(1<<20)/w.Seconds())
	}
}

// connsSettle is how long after a quiz BenchmarkQuiz counts the members'
// connections again: a connection's trim grace and a trim tick (10 s),
// and a little more.
const connsSettle = ihost.TrimGrace + 15*time.Second

// reportConns reports the connections the members hold now
// (conns-at-done-median) and connsSettle later (conns-median, conns-max):
// a member's connections should follow its links, not the class.
func reportConns(b *testing.B, nodes []*Swarm) {
	at := connCounts(nodes)
	slices.Sort(at)
	b.ReportMetric(float64(at[len(at)/2]), "conns-at-done-median")
	time.Sleep(connsSettle) // a measurement's interval, not a synchronisation
	later := connCounts(nodes)
	slices.Sort(later)
	b.ReportMetric(float64(later[len(later)/2]), "conns-median")
	b.ReportMetric(float64(later[len(later)-1]), "conns-max")
}
