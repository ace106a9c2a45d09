package p2pshare_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// A campus tool that already has a libp2p key runs its node under it: the
// node's peer ID is the tool's own.
func ExampleConfig_identity() {
	ctx := context.Background()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader) // the tool's key, loaded from its own store
	if err != nil {
		log.Fatal(err)
	}
	node, err := p2pshare.New(ctx, p2pshare.Config{Identity: key, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	id, _ := peer.IDFromPrivateKey(key)
	fmt.Println(node.ID() == id.String())
	// Output: true
}

// A new network is asked for: a node with no invite, and no membership
// kept from an earlier start, is refused rather than left alone in a
// network of its own.
func ExampleConfig_newNetwork() {
	ctx := context.Background()
	loopback := []string{"/ip4/127.0.0.1/tcp/0"}
	if _, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback}); err != nil {
		fmt.Println(err)
	}
	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	fmt.Println("bootstrap:", teacher.IsBootstrap())
	// Output:
	// p2pshare: no network to start or join: Config.Invite is empty and Config.DataDir "" holds no membership; set Config.Invite to join a network, or Config.NewNetwork to start one
	// bootstrap: true
}
