package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// seed verifies the existing -out against the share and seeds it (-check),
// showing on a terminal how far the hashing is.
func (r *reporter) seed(ctx context.Context, sw *p2pshare.Swarm, ih p2pshare.Infohash, o options) (*p2pshare.Download, error) {
	var drawn time.Time
	d, err := sw.Seed(ctx, o.out, ih, p2pshare.SeedOptions{
		LookupTimeout: o.timeout,
		Progress: func(done, total int64) {
			if r.status == nil || (time.Since(drawn) < 100*time.Millisecond && done < total) {
				return
			}
			drawn = time.Now()
			r.status.Draw(fmt.Sprintf("checking %s %s / %s", console.Bar(done, total, 20),
				flagx.FormatBytes(done), flagx.FormatBytes(total)))
		},
	})
	if errors.Is(err, p2pshare.ErrMismatch) {
		return nil, fmt.Errorf("%w; -out is left as it was: move it away and run without -check to download the share", err)
	}
	return d, err
}

// checked reports that -check found -out whole: the plain line says so,
// -json has the usual "done" event, with nothing downloaded.
func (r *reporter) checked(d *p2pshare.Download) {
	if !r.json {
		p := d.Progress()
		r.end()
		fmt.Fprintf(r.stdout, "checked %s (%s) at %s in %s: all %d pieces match; seeding\n",
			d.Name(), flagx.FormatBytes(p.TotalBytes), d.Path(), console.Duration(time.Since(r.start)), p.TotalPieces)
		r.lastSent = p
		return
	}
	r.done(d)
}
