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

// A teacher's node shares a file: the infohash and the node's addresses are
// all a student needs.
func ExampleSwarm_Share() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	image := filepath.Join(dir, "lab.img")
	_ = os.WriteFile(image, []byte("a very small lab image"), 0o644)

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}, NewNetwork: true})
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

// A teacher approves each newcomer by hand. Config.Approve holds every
// join that passed the invite's checks until it answers; the newcomer is
// told meanwhile that it waits. Here the requests go to a channel, where a
// console or a web page would show them as pending and take the teacher's
// answer.
func ExampleConfig_approve() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	type pending struct {
		req    p2pshare.JoinRequest
		answer chan bool
	}
	requests := make(chan pending)
	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true,
		Approve: func(ctx context.Context, r p2pshare.JoinRequest) (bool, string) {
			p := pending{r, make(chan bool, 1)}
			select {
			case requests <- p:
			case <-ctx.Done(): // the newcomer gave up, or time ran out
				return false, "nobody decided"
			}
			select {
			case ok := <-p.answer:
				return ok, "the teacher does not know " + r.Name
			case <-ctx.Done():
				return false, "nobody decided"
			}
		}})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	go func() { // the teacher's console
		for p := range requests {
			fmt.Printf("%s asks to join\n", p.req.Name)
			p.answer <- p.req.Name == "s1234"
		}
	}()

	invite, err := teacher.Invite(p2pshare.InviteOptions{Uses: 30, TTL: time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"s1234", "intruder"} {
		student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite, Name: name})
		var refused *p2pshare.RefusedError
		switch {
		case errors.As(err, &refused):
			fmt.Println("refused:", refused.Reason)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println(name, "joined")
			student.Close()
		}
	}
	// Output:
	// s1234 asks to join
	// s1234 joined
	// intruder asks to join
	// refused: not approved: the teacher does not know intruder
}
