package p2pshare

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	pebbleds "github.com/ipfs/go-ds-pebble"
	"github.com/libp2p/go-libp2p/core/peer"
)

// manifestRecordKey is the DHT key of ih's manifest record.
func manifestRecordKey(ih Infohash) string { return "/p2pshare-manifest/" + string(ih.Bytes()) }

// parkForOffline starts a class of the bootstrap (cfg), alice and bob;
// alice goes offline, bob shares a file and writes alice a message, which
// is parked on the bootstrap, and leaves. It returns what the bootstrap
// holds: the message for alice and the share's manifest record.
func parkForOffline(t *testing.T, ctx context.Context, boot *Swarm, alice *Swarm, body []byte) (peer.ID, Infohash) {
	t.Helper()
	bob := testNode(t, boot, msgConfig("bob"))
	alice.msg.awaitListed()
	bob.msg.awaitListed()
	aliceID := alice.ID()
	alice.Close()
	src, _ := randomFile(t, t.TempDir(), 64<<10)
	ih, err := bob.Share(ctx, src, ShareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := bob.Send(ctx, "alice", body)
	if err != nil || r.Direct || r.Parked == 0 {
		t.Fatalf("send to offline alice: %+v, %v", r, err)
	}
	waitUntil(t, 20*time.Second, "the bootstrap holding the message and the manifest", func() bool {
		_, ok := boot.dht.Stored(ctx, manifestRecordKey(ih))
		return ok && len(boot.msg.box.Items(aliceID)) == 1
	})
	bob.Close()
	return aliceID, ih
}

// TestRestartKeepsRecordsAndParkedMessages: the bootstrap holds a share's
// manifest record and a message parked for alice, who is offline, and is
// the only node left holding them; it restarts on its DataDir, still
// serves the record, and alice, back, collects her message from it.
func TestRestartKeepsRecordsAndParkedMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bootDir, aliceDir := t.TempDir(), t.TempDir()
	bootCfg := func(c *Config) { msgConfig("teacher")(c); c.DataDir = bootDir }
	boot := testNode(t, nil, bootCfg)
	alice := testNode(t, boot, func(c *Config) { msgConfig("alice")(c); c.DataDir = aliceDir })
	body := []byte("the lab moved to room 3; bring the image on a stick")
	aliceID, ih := parkForOffline(t, ctx, boot, alice, body)
	boot.Close()

	boot = testNode(t, nil, bootCfg)
	if _, ok := boot.dht.Stored(ctx, manifestRecordKey(ih)); !ok {
		t.Error("the restarted bootstrap lost the manifest record it held")
	}
	if n := len(boot.msg.box.Items(aliceID)); n != 1 {
		t.Fatalf("the restarted bootstrap holds %d messages for alice, want 1", n)
	}
	alice = testNode(t, nil, func(c *Config) {
		msgConfig("alice")(c)
		c.DataDir = aliceDir
		c.BootstrapPeers = []peer.AddrInfo{boot.AddrInfo()}
	})
	if m := receive(t, ctx, alice); !bytes.Equal(m.Body, body) || m.FromName != "bob" {
		t.Fatalf("alice got %q from %q", m.Body, m.FromName)
	}
	if _, err := alice.dht.GetManifest(ctx, ih); err != nil {
		t.Fatalf("the manifest record from the restarted bootstrap: %v", err)
	}
	waitUntil(t, 20*time.Second, "the collected message deleted from the bootstrap", func() bool {
		return len(boot.msg.box.Items(aliceID)) == 0
	})
}

// TestConfigDatastore: a datastore the program supplies receives the
// node's DHT records and parked messages under their prefixes, and is
// left open when the node closes.
func TestConfigDatastore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := pebbleds.NewDatastore(filepath.Join(t.TempDir(), "campus-tool"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	boot := testNode(t, nil, func(c *Config) { msgConfig("teacher")(c); c.Datastore = store })
	alice := testNode(t, boot, msgConfig("alice"))
	parkForOffline(t, ctx, boot, alice, []byte("hello"))
	boot.Close()
	for _, prefix := range []string{"/p2pshare/dht/p2pshare-manifest/", "/p2pshare/dht/p2pshare-member/", "/p2pshare/dht-charges/", "/p2pshare/mailbox/item/"} {
		res, err := store.Query(ctx, dsq.Query{Prefix: prefix, KeysOnly: true})
		if err != nil {
			t.Fatalf("the node closed the program's datastore: %v", err)
		}
		all, err := res.Rest()
		if err != nil || len(all) == 0 {
			t.Errorf("no keys under %s in Config.Datastore (%v)", prefix, err)
		}
	}
}

// TestDatastoreInUseOrDamaged: a second node on a DataDir whose datastore
// is open, and a node on a damaged datastore, are refused with an error
// naming the datastore's path.
func TestDatastoreInUseOrDamaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, datastoreDirName)
	first := testNode(t, nil, func(c *Config) { c.DataDir = dir })
	first.Close() // a new DataDir's datastore is made in the background; now it is
	first = testNode(t, nil, func(c *Config) { c.DataDir = dir })
	_, err := New(context.Background(), Config{DataDir: dir, ListenAddrs: loopback()})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a second node on a DataDir in use: %v; want an error naming %s in use", err, path)
	}
	first.Close()
	manifests, _ := filepath.Glob(filepath.Join(path, "MANIFEST-*"))
	if len(manifests) == 0 {
		t.Fatalf("no MANIFEST in %s", path)
	}
	for _, m := range manifests {
		if err := os.WriteFile(m, bytes.Repeat([]byte("damaged "), 64), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err = New(context.Background(), Config{DataDir: dir, ListenAddrs: loopback()})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a node on a damaged datastore: %v; want an error naming %s", err, path)
	}
	t.Log(err)
}

var _ ds.Batching = (*closeGuard)(nil)

// TestLazyStoreKeepsEveryWrite: a new DataDir's datastore, opened in the
// background, holds on disk what was written before and after it opened.
func TestLazyStoreKeepsEveryWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), datastoreDirName)
	l := newLazyStore(path, slog.New(slog.DiscardHandler), 0)
	if err := l.Put(ctx, ds.NewKey("/before"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	<-l.done
	if err := l.Put(ctx, ds.NewKey("/after"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(ctx, ds.NewKey("/before")); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, ds.NewKey("/before"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, ds.NewKey("/closed"), nil); err == nil {
		t.Fatal("a write after Close succeeded")
	}
	p, err := pebbleds.NewDatastore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for k, want := range map[string]string{"/before": "3", "/after": "2"} {
		if v, err := p.Get(ctx, ds.NewKey(k)); err != nil || string(v) != want {
			t.Errorf("%s on disk: %q, %v; want %q", k, v, err, want)
		}
	}
}
