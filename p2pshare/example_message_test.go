package p2pshare_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// A student writes to the teacher by name. The teacher's program takes the
// message from Messages and acknowledges it once it has handled it: until
// then it stays kept, and a restart with the same DataDir delivers it
// again; after, it never comes again.
func ExampleSwarm_Send() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Name: "teacher", DataDir: dir, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	invite, err := teacher.Invite(p2pshare.InviteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite, Name: "s1234"})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()

	r, err := student.Send(ctx, "teacher", []byte("may I hand in the lab on Friday?"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("handed over directly:", r.Direct)

	select {
	case m := <-teacher.Messages():
		fmt.Printf("from %s: %s\n", m.FromName, m.Body)
		if err := m.Ack(); err != nil { // handled: never delivered again
			log.Fatal(err)
		}
	case <-ctx.Done():
		log.Fatal(ctx.Err())
	}
	// Output:
	// handed over directly: true
	// from s1234: may I hand in the lab on Friday?
}
