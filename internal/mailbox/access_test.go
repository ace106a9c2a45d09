package mailbox

import (
	"errors"
	"testing"
	"time"
)

func TestAuthorize(t *testing.T) {
	owner, other := newPeer(t), newPeer(t)
	ids := []ItemID{{1}}
	cases := []struct {
		name   string
		req    Request
		remote string
		ok     bool
	}{
		{"anyone parks", Request{Op: OpPut, Owner: owner}, "other", true},
		{"the owner parks", Request{Op: OpPut, Owner: owner}, "owner", true},
		{"the owner lists", Request{Op: OpHave, Owner: owner}, "owner", true},
		{"another lists", Request{Op: OpHave, Owner: owner}, "other", false},
		{"another asks about IDs it names", Request{Op: OpHave, Owner: owner, IDs: ids}, "other", true},
		{"the owner collects", Request{Op: OpTake, Owner: owner}, "owner", true},
		{"another collects", Request{Op: OpTake, Owner: owner}, "other", false},
		{"another collects, naming IDs", Request{Op: OpTake, Owner: owner, IDs: ids}, "other", false},
		{"the owner deletes", Request{Op: OpDel, Owner: owner, IDs: ids}, "owner", true},
		{"another deletes", Request{Op: OpDel, Owner: owner, IDs: ids}, "other", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			remote := owner
			if c.remote == "other" {
				remote = other
			}
			err := Authorize(c.req, remote)
			if c.ok != (err == nil) {
				t.Fatalf("Authorize(op %d by the %s) = %v, want allowed %v", c.req.Op, c.remote, err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrNotOwner) {
				t.Fatalf("refusal %v is not ErrNotOwner", err)
			}
		})
	}
}

func TestStoreHave(t *testing.T) {
	s := NewStore()
	owner, other, sender := newPeer(t), newPeer(t), newPeer(t)
	now := time.Unix(1000, 0)
	for _, b := range []string{"a", "b"} {
		if ok, err := s.Put(owner, Item{Sealed: []byte(b), Sender: sender, Expiry: now.Add(time.Hour)}, now); !ok || err != nil {
			t.Fatalf("put %s: %v %v", b, ok, err)
		}
	}
	a, b, c := IDOf([]byte("a")), IDOf([]byte("b")), IDOf([]byte("c"))
	if got := s.Have(owner, []ItemID{c, b, a}); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("Have(c, b, a) = %v, want b, a", got)
	}
	if got := s.Have(other, []ItemID{a}); len(got) != 0 {
		t.Fatalf("another's inbox has %v", got)
	}
}
