package p2pshare

import (
	"context"
	"math"
	"testing"

	"github.com/p2pshare/p2pshare/internal/manifest"
	"github.com/p2pshare/p2pshare/internal/storage"
	"github.com/p2pshare/p2pshare/internal/swarm"
)

// shareCorrupt has s serve the share of the file at path (its manifest
// and infohash are those of the file's bytes) with other bytes in every
// piece: a member whose copy went bad and that serves it anyway, as a
// seeder did when its file changed on disk before seeds checked for that.
func shareCorrupt(t *testing.T, ctx context.Context, s *Swarm, path string, pieceSize int64) Infohash {
	t.Helper()
	m, err := manifest.Build(ctx, path, manifest.BuildOptions{PieceSize: pieceSize})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ih := manifest.InfohashOf(enc)
	mem, err := storage.OpenMemory(m, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.NumPieces() {
		if err := mem.WritePiece(i, rnd(int(m.PieceLen(i)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.start(swarm.Config{Manifest: m, Encoded: enc, Infohash: ih, Storage: mem, SuperSeed: true, UploadBudget: math.MaxInt64}); err != nil {
		t.Fatal(err)
	}
	s.putManifest(ih, enc)
	return ih
}
