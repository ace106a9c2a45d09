package p2pshare_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multiaddr"

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
	node, err := p2pshare.New(ctx, p2pshare.Config{Identity: key, ListenAddrs: []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	id, _ := peer.IDFromPrivateKey(key)
	fmt.Println(node.ID() == id)
	// Output: true
}

// A new network is asked for: a node with no invite, and no membership
// kept from an earlier start, is refused rather than left alone in a
// network of its own.
func ExampleConfig_newNetwork() {
	ctx := context.Background()
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}
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

// A student's program reads one file of a folder share straight from the
// download, without waiting for the rest: Files says where each file
// begins, and the reader seeks there.
func ExampleDownload_Reader() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	lab := filepath.Join(dir, "lab")
	_ = os.MkdirAll(filepath.Join(lab, "data"), 0o755)
	_ = os.WriteFile(filepath.Join(lab, "README"), []byte("run ./data/quiz.txt"), 0o644)
	_ = os.WriteFile(filepath.Join(lab, "data", "quiz.txt"), []byte("Q1: what is a DHT?"), 0o644)
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, lab, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}
	invite, _ := teacher.Invite(p2pshare.InviteOptions{})
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()
	dl, err := student.Fetch(ctx, ih, p2pshare.FetchOptions{Out: filepath.Join(dir, "copy")})
	if err != nil {
		log.Fatal(err)
	}
	r := dl.Reader(ctx)
	defer r.Close()
	for _, f := range dl.Files() {
		if f.Path != "data/quiz.txt" {
			continue
		}
		b := make([]byte, f.Size)
		if _, err := r.Seek(f.Offset, io.SeekStart); err != nil {
			log.Fatal(err)
		}
		if _, err := io.ReadFull(r, b); err != nil { // waits for the file's pieces
			log.Fatal(err)
		}
		fmt.Printf("%s (%d bytes at %d): %s\n", f.Path, f.Size, f.Offset, b)
	}
	// Output: data/quiz.txt (18 bytes at 19): Q1: what is a DHT?
}

// A quiz never touches the student's disk: the student's program fetches
// it into memory and reads it from there.
func ExampleFetchOptions_inMemory() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	quiz := filepath.Join(dir, "quiz.json")
	_ = os.WriteFile(quiz, []byte(`{"q1":"what is a DHT?"}`), 0o644)
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	ih, err := teacher.Share(ctx, quiz, p2pshare.ShareOptions{})
	if err != nil {
		log.Fatal(err)
	}
	invite, _ := teacher.Invite(p2pshare.InviteOptions{})
	student, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, Invite: invite})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()
	dl, err := student.Fetch(ctx, ih, p2pshare.FetchOptions{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	if err := dl.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	b, err := dl.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", dl.Name(), b)
	// Output: quiz.json: {"q1":"what is a DHT?"}
}

// A node speaks libp2p's types: its peer ID, and the peer.AddrInfo that
// another node names it by in Config.BootstrapPeers.
func ExampleSwarm_AddrInfo() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "p2pshare-example")
	defer os.RemoveAll(dir)
	loopback := []multiaddr.Multiaddr{multiaddr.StringCast("/ip4/127.0.0.1/tcp/0")}

	teacher, err := p2pshare.New(ctx, p2pshare.Config{ListenAddrs: loopback, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	defer teacher.Close()
	invite, _ := teacher.Invite(p2pshare.InviteOptions{})
	student, err := p2pshare.New(ctx, p2pshare.Config{DataDir: dir, ListenAddrs: loopback, Invite: invite})
	if err != nil {
		log.Fatal(err)
	}
	id := student.ID()
	student.Close()

	// The student starts again from its DataDir, no invite needed, and
	// reaches the network through the teacher's node.
	student, err = p2pshare.New(ctx, p2pshare.Config{
		DataDir: dir, ListenAddrs: loopback,
		BootstrapPeers: []peer.AddrInfo{teacher.AddrInfo()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer student.Close()
	fmt.Println("same peer:", student.ID() == id)
	// Output: same peer: true
}

// A campus tool that already runs a libp2p host runs its node on it. The
// host is built with p2pshare's gater, so that the network's revoked
// members are refused at the handshake; closing the node leaves the host
// to the tool.
func ExampleConfig_host() {
	ctx := context.Background()
	gater := p2pshare.NewGater()
	key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.ConnectionGater(gater))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	node, err := p2pshare.New(ctx, p2pshare.Config{Host: h, HostGater: gater, NewNetwork: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the node is the host's peer:", node.ID() == h.ID())
	node.Close()
	fmt.Println("the host still listens:", len(h.Addrs()) > 0)
	// Output:
	// the node is the host's peer: true
	// the host still listens: true
}
