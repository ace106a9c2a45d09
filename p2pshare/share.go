package p2pshare

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

const defaultJoinTimeout = 30 * time.Second

// ShareOptions tune Share. The zero value is the usual choice.
type ShareOptions struct {
	// PieceSize overrides the piece size, a power of two from 16 KiB to
	// 16 MiB. 0 picks one from the content size.
	PieceSize int64
	// Progress, if set, is called as hashing proceeds with the bytes hashed
	// so far and the total.
	Progress func(done, total int64)
	// UploadBudget, if above 0, is about how many copies of the share this
	// node uploads before it leaves the class to itself: it shows members
	// pieces a couple at a time, and once what it sent and what it showed
	// and still owes reach the budget it shows only pieces no member it
	// is linked to holds (one whose holders all left, say), so the class
	// never waits on a piece only it has. Every piece has to leave it once,
	// so a budget below 1 works as 1. A campus server that serves many
	// classes sets it near 1.1; the class then finishes a few percent later
	// than with the server's whole upload. 0 means no budget.
	UploadBudget float64
}

// Share hashes the file or folder at path, serves it, and announces this node
// as its provider. It returns the share's infohash, which is all another
// member needs to Fetch it. The share is served until Stop or Close.
func (s *Swarm) Share(ctx context.Context, path string, opts ShareOptions) (Infohash, error) {
	if b := opts.UploadBudget; b < 0 || math.IsNaN(b) || math.IsInf(b, 0) {
		return cid.Undef, fmt.Errorf("p2pshare: sharing %s: upload budget %v: want 0 (none) or a number of copies of the share above 0", path, b)
	}
	m, err := manifest.Build(ctx, path, manifest.BuildOptions{PieceSize: opts.PieceSize, Progress: opts.Progress})
	if err != nil {
		return cid.Undef, fmt.Errorf("p2pshare: sharing %s: %w", path, err)
	}
	enc, err := m.Encode()
	if err != nil {
		return cid.Undef, fmt.Errorf("p2pshare: sharing %s: %w", path, err)
	}
	ih := manifest.InfohashOf(enc)
	st, err := storage.OpenSeed(m, path)
	if err != nil {
		return cid.Undef, fmt.Errorf("p2pshare: sharing %s: %w", path, err)
	}
	budget := int64(math.MaxInt64)
	if b := math.Ceil(opts.UploadBudget * float64(m.TotalSize())); b < float64(math.MaxInt64) {
		budget = int64(b)
	}
	if _, err := s.start(swarm.Config{Manifest: m, Encoded: enc, Infohash: ih, Storage: st, SuperSeed: true, UploadBudget: budget}); err != nil {
		st.Close()
		return cid.Undef, err
	}
	s.putManifest(ih, enc)
	return ih, nil
}

// putManifest stores a manifest in the DHT in the background; failures only
// cost a lookup path, since every holder also serves it directly.
func (s *Swarm) putManifest(ih cid.Cid, enc []byte) {
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		if err := s.dht.PutManifest(ctx, ih, enc); err != nil {
			s.log.Debug("storing manifest in the DHT", "infohash", ih, "err", err)
		}
	}()
}
