package mailbox

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sized is an item whose encoding is n bytes (n >= ItemBytes of an empty one).
func sized(i, n int) Item {
	it := Item{Sealed: fmt.Appendf(nil, "%04d", i), Expiry: time.Unix(1, 0)}
	it.Sealed = append(it.Sealed, make([]byte, n-ItemBytes(it))...)
	return it
}

func TestBatches(t *testing.T) {
	base := ItemBytes(Item{Sealed: []byte("0000")})
	cases := []struct {
		name   string
		sizes  []int
		budget int
		want   []int // items in each batch
	}{
		{"none", nil, 100, nil},
		{"all fit", []int{30, 30, 30}, 100, []int{3}},
		{"exactly the budget", []int{50, 50, 50}, 100, []int{2, 1}},
		{"one over the budget goes alone", []int{30, 250, 30}, 100, []int{1, 1, 1}},
		{"first over the budget", []int{250, 30, 30}, 100, []int{1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var items []Item
			for i, n := range c.sizes {
				items = append(items, sized(i, max(n, base)))
			}
			var got []int
			for _, b := range Batches(items, c.budget) {
				got = append(got, len(b))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("batches of %v within %d: %v, want %v", c.sizes, c.budget, got, c.want)
			}
		})
	}
}

// TestPagesCoverTheInbox pages random inboxes as a collecting owner does,
// leaving out what earlier pages gave, and checks each page against the
// naive rule: every item once, in order, each page within the budget
// unless it is a single item, More until the last.
func TestPagesCoverTheInbox(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var items []Item
		var ids []ItemID
		total := 0
		for i := range r.IntN(40) {
			it := sized(i, 40+r.IntN(300))
			items = append(items, it)
			ids = append(ids, IDOf(it.Sealed))
			total += ItemBytes(it)
		}
		budget := 100 + r.IntN(600)
		var got []ItemID
		var pages int
		for {
			page, more := Page(ids, items, got, budget)
			size := 0
			for _, it := range page {
				size += ItemBytes(it)
				got = append(got, IDOf(it.Sealed))
			}
			if size > budget && len(page) > 1 {
				t.Fatalf("round %d: page of %d items, %d bytes, budget %d", round, len(page), size, budget)
			}
			pages++
			if !more {
				break
			}
			if len(page) == 0 || pages > len(items) {
				t.Fatalf("round %d: More with no progress", round)
			}
		}
		if len(got) != len(items) {
			t.Fatalf("round %d: %d of %d items in %d pages (%d bytes, budget %d)", round, len(got), len(items), pages, total, budget)
		}
		for i, it := range items {
			if got[i] != IDOf(it.Sealed) {
				t.Fatalf("round %d: item %d out of order", round, i)
			}
		}
	}
}

func TestSignedItem(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := peer.IDFromPrivateKey(key)
	owner, other := newPeer(t), newPeer(t)
	it := Item{Sealed: []byte("sealed for the owner"), Expiry: time.Unix(100, 0)}
	if err := Sign(key, []byte("alice's cert"), owner, &it); err != nil {
		t.Fatal(err)
	}
	if it.Sender != alice || string(it.Cert) != "alice's cert" {
		t.Fatalf("signed item %+v", it)
	}
	if err := Verify(owner, it); err != nil {
		t.Fatalf("a signed item: %v", err)
	}
	// The expiry is each holder's to cap; it is not signed.
	capped := it
	capped.Expiry = time.Unix(50, 0)
	if err := Verify(owner, capped); err != nil {
		t.Fatalf("a capped expiry: %v", err)
	}
	claims := map[string]Item{}
	c := it
	c.Sender = other
	claims["another sender claimed"] = c
	c = it
	c.Sealed = []byte("other bytes")
	claims["other sealed bytes"] = c
	c = it
	c.Sig = nil
	claims["no signature"] = c
	c = it
	c.Sender = "not a peer ID"
	claims["a sender with no key"] = c
	for name, c := range claims {
		if err := Verify(owner, c); !errors.Is(err, ErrUnsigned) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Verify(other, it); !errors.Is(err, ErrUnsigned) || !bytes.Contains([]byte(err.Error()), []byte(alice.String())) {
		t.Errorf("parked for another owner: %v", err)
	}
}
