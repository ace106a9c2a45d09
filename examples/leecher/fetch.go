package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/datadir"
	"github.com/p2pshare/p2pshare/examples/internal/metricsweb"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// leech joins, finds the share, downloads it while reporting, and then
// seeds it until ctx ends (or not at all with -exit-when-done).
func leech(ctx context.Context, o options, stdout io.Writer, stderr *os.File) error {
	ih, err := p2pshare.ParseInfohash(o.infohash)
	if err != nil {
		return fmt.Errorf("-infohash: %w", err)
	}
	exists := false
	if _, err := os.Lstat(o.out); err == nil {
		if !o.checkOut {
			return fmt.Errorf("-out %s already exists (%w): a finished download is not fetched again; -check verifies it and seeds it", o.out, fs.ErrExist)
		}
		exists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking the output: %w", err)
	}
	dir, err := dataDir(o)
	if err != nil {
		return err
	}
	unlock, err := datadir.Lock(dir)
	if errors.Is(err, datadir.ErrInUse) {
		return fmt.Errorf("%w: a second download at once from this network needs a -data folder of its own (and a -name of its own)", err)
	} else if err != nil {
		return fmt.Errorf("-data: %w", err)
	}
	defer unlock()
	log := o.logLevel.Logger(stderr, "leecher")
	log.Debug("joining the network", "data", dir, "listen", o.listen, "bootstrap", o.bootstrap)
	sw, err := p2pshare.New(ctx, p2pshare.Config{
		Logger:         log,
		DataDir:        dir,
		ListenAddrs:    []ma.Multiaddr{o.listen.Addr},
		Metrics:        metricsweb.Libp2p(o.metrics != ""),
		Invite:         o.invite,
		Name:           o.name,
		BootstrapPeers: o.bootstrap,
		JoinTimeout:    o.timeout,
		UploadLimit:    int64(o.up),
		DownloadLimit:  int64(o.down),
		OnApprovalWait: func(why string) { fmt.Fprintf(stderr, "leecher: the network's bootstrap is %s\n", why) },
	})
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w while joining the network", console.ErrInterrupted)
	case errors.Is(err, p2pshare.ErrNameTaken):
		return fmt.Errorf("%w. If the name is yours from an earlier run, this computer no longer has that run's data folder (this run's is %s): run again with -data naming the old folder, or ask the teacher to free the name on the network's bootstrap", err, dir)
	case err != nil:
		return err
	}
	defer sw.Close()
	log.Info("joined the network", "peer", sw.ID(), "addrs", sw.Addrs())

	r := &reporter{stdout: stdout, json: o.json, start: time.Now(), peer: sw.ID(), addrs: sw.Addrs()}
	if o.metrics != "" {
		srv, err := metricsweb.Serve(ctx, o.metrics, sw)
		if err != nil {
			return fmt.Errorf("-metrics: %w", err)
		}
		defer srv.Close()
		r.metrics = srv.Addr().String()
	}
	if console.IsTerminal(stderr) {
		r.status = console.NewStatus(stderr)
		r.status.Draw(fmt.Sprintf("looking for %s …", ih))
	}
	defer r.end()
	log.Debug("looking for the share", "infohash", ih, "timeout", o.timeout)
	var d *p2pshare.Download
	if exists {
		d, err = r.seed(ctx, sw, ih, o)
	} else {
		d, err = sw.Fetch(ctx, ih, p2pshare.FetchOptions{Out: o.out, LookupTimeout: o.timeout, StallTimeout: o.stall})
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w while looking for the share", console.ErrInterrupted)
	case errors.Is(err, p2pshare.ErrNotFound):
		return fmt.Errorf("share %s not found: no member offered it within %v (-timeout) (%w)", ih, o.timeout, p2pshare.ErrNotFound)
	case err != nil:
		return err
	}
	defer d.Close()
	log.Info("found the share", "infohash", ih, "name", d.Name(), "bytes", d.Size())
	r.started(d)

	// One loop owns the reporter: progress events, completion and signals
	// all arrive here.
	waitc := make(chan error, 1)
	go func() { waitc <- d.Wait(ctx) }()
	events, stop := d.Events(), ctx.Done()
	complete := false
	for {
		select {
		case e, ok := <-events:
			if !ok {
				events = nil // the session stopped; Wait says why
				continue
			}
			switch e.Kind {
			case p2pshare.EventProgress:
				r.progress(time.Now(), e.Progress, complete)
			case p2pshare.EventWaiting:
				r.waiting(time.Now(), e.Progress)
			}
		case err := <-waitc:
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("%w before the download completed; run again with the same command to resume", console.ErrInterrupted)
				}
				if errors.Is(err, p2pshare.ErrStalled) {
					return fmt.Errorf("%w (-stall-timeout); run again with the same -out to resume", err)
				}
				return err
			}
			complete = true
			if exists {
				log.Info("checked, seeding", "path", d.Path())
				r.checked(d)
			} else {
				log.Info("download complete", "path", d.Path())
				r.done(d)
			}
			if o.exitWhenDone {
				return nil
			}
		case <-stop:
			if complete {
				return nil
			}
			stop = nil // Wait returns with ctx's error next
		}
	}
}

// dataDir is the folder the node keeps its identity and membership in:
// -data, or by default the leecher's folder for the invite's network, or
// without an invite the only network folder it has.
func dataDir(o options) (string, error) {
	if o.data != "" {
		return o.data, nil
	}
	if o.invite == "" {
		return datadir.Only("leecher")
	}
	inv, err := p2pshare.ParseInvite(o.invite)
	if err != nil {
		return "", fmt.Errorf("-invite: %w", err)
	}
	return datadir.ForNetwork("leecher", inv.Network)
}
