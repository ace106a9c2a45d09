package p2pshare_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// A teacher's node shares a file: the infohash and the node's addresses are
// all a student needs.
func ExampleSwarm_Share() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	image := filepath.Join(dir, "lab.img")
	_ = os.WriteFile(image, []byte("a very small lab image"), 0o644)

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, image, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ih)
	// Output: bafkreihh6vonwupqqlihmdaikh7dhl7kxn4yyaohltvrxnxcqereef3vey
}

// A student's node joins through the teacher's and fetches the share, then
// keeps seeding it to the rest of the class until it is closed.
func ExampleSwarm_Fetch() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	image := filepath.Join(dir, "lab.img")
	_ = os.WriteFile(image, []byte("a very small lab image"), 0o644)
	loopback := []string{"/ip4/127.0.0.1/tcp/0"}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, image, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}

	// The teacher's node is the network's bootstrap: it invites students.
	invite, err := teacher.Invite(p2pshare.InviteOptions{Uses: 30, TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()
	dl, err := student.Fetch(ctx, ih, p2pshare.FetchOptions{Out: filepath.Join(dir, "copy.img")})
	if err != nil {
		log.Fatal(err)
	}
	if err := dl.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	b, _ := os.ReadFile(dl.Path())
	fmt.Printf("%s: %q\n", dl.Name(), b)
	// Output: lab.img: "a very small lab image"
}
