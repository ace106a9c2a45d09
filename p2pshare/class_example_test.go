package p2pshare_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// The teacher's node watches the class fetch a share: each snapshot says
// who has it, who is still pulling and who is stuck.
func ExampleSwarm_WatchClass() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	image := filepath.Join(dir, "lab.img")
	_ = os.WriteFile(image, make([]byte, 1<<20), 0o644)

	local := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}
	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: local, Name: "teacher", NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, image, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}
	class, err := teacher.WatchClass(ctx, ih)
	if err != nil {
		log.Fatal(err)
	}

	invite, _ := teacher.Invite(p2pshare.InviteOptions{})
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: local, Invite: invite, Name: "s1234"})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()
	if _, err := student.Fetch(ctx, ih, p2pshare.FetchOptions{Out: filepath.Join(dir, "copy.img")}); err != nil {
		log.Fatal(err)
	}
	for snap := range class {
		if snap.Receivers > 0 && snap.Done == snap.Receivers {
			for _, m := range snap.Members {
				fmt.Printf("%s: %s, %s, %.0f%%\n", m.Name, m.Role, m.State, m.Percent)
			}
			fmt.Printf("%d/%d done\n", snap.Done, snap.Receivers)
			break
		}
	}
	// Output:
	// s1234: receiver, done, 100%
	// teacher: seeder, seeding, 100%
	// 1/1 done
}
