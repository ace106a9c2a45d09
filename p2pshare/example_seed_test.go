package p2pshare_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// A student's laptop restarts with the lab image it fetched before. Seed
// checks the copy against the share and serves it to the class, without
// downloading it again and without a new infohash; a copy that changed is
// refused, and left as it was.
func ExampleSwarm_Seed() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	image := filepath.Join(dir, "lab.img")
	_ = os.WriteFile(image, []byte("a very small lab image"), 0o644)
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, image, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}
	invite, err := teacher.Invite(p2pshare.InviteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()

	changed := filepath.Join(dir, "changed.img")
	_ = os.WriteFile(changed, []byte("a very small lab imagE"), 0o644)
	_, err = student.Seed(ctx, changed, ih, p2pshare.SeedOptions{})
	fmt.Println("a changed copy is refused:", errors.Is(err, p2pshare.ErrMismatch))

	kept := filepath.Join(dir, "kept.img")
	_ = os.WriteFile(kept, []byte("a very small lab image"), 0o644)
	dl, err := student.Seed(ctx, kept, ih, p2pshare.SeedOptions{})
	if err != nil {
		log.Fatal(err)
	}
	p := dl.Progress()
	fmt.Printf("%s: seeding %d of %d pieces\n", dl.Name(), p.Pieces, p.TotalPieces)
	// Output:
	// a changed copy is refused: true
	// lab.img: seeding 1 of 1 pieces
}
