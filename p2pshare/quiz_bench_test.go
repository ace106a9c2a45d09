package p2pshare

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkQuiz is the exam app's case in one process: a 2 MiB quiz to 50
// members, already joined, who all fetch it at one instant (seeder up 8
// MiB/s, members up 4 and down 8 MiB/s; T* = 0.48 s). It reports the
// medians and maxima of three phases from the go-ahead: the manifest
// resolved (Fetch returned), the first verified piece, done; and the
// seeder's upload over F.
//
//	go test -run '^$' -bench Quiz -benchtime 1x ./p2pshare
func BenchmarkQuiz(b *testing.B) {
	const n, size = 50, 2 << 20
	for range b.N {
		b.StopTimer()
		boot := testNode(b, nil, func(c *Config) { c.UploadLimit = 8 << 20 })
		nodes := make([]*Swarm, n)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() {
				nodes[i] = testNode(b, boot, func(c *Config) { c.UploadLimit = 4 << 20; c.DownloadLimit = 8 << 20 })
			})
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		src, _ := randomFile(b, b.TempDir(), size)
		ih, err := boot.Share(ctx, src, ShareOptions{})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		b.StartTimer()
		start := time.Now()
		var resolved, first, done [n]time.Duration
		for i, nd := range nodes {
			wg.Go(func() {
				d, err := nd.Fetch(ctx, ih, FetchOptions{Out: filepath.Join(dir, fmt.Sprint(i))})
				if err != nil {
					b.Error(err)
					return
				}
				resolved[i] = time.Since(start)
				for e := range d.Events() {
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
		b.ReportMetric(done[n-1].Seconds()/0.48, "makespan/T*")
		cancel()
		for _, nd := range nodes {
			nd.Close()
		}
		boot.Close()
	}
}
