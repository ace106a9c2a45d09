package membership

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// setCA replaces the CA the bootstrap signs with, whatever it is.
func (b *Bootstrap) setCA(ca *CA) { b.ca.Store(ca) }

// admitUnchecked runs a newcomer's or member's side of an admission by
// hand, from a host with key k, without checking the challenge (a CA that
// cannot sign cannot prove itself either), and returns the bootstrap's
// answer as Join would.
func admitUnchecked(t *testing.T, tn *testNet, k crypto.PrivKey, request func(nonce [32]byte, self peer.ID) clientMsg) error {
	t.Helper()
	h := plainHost(t, k)
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := h.Connect(ctx, info(tn.bn.h)); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(ctx, tn.bn.id, ProtocolAdmit)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(waitBound))
	ch, err := readServer(s)
	if err != nil {
		t.Fatalf("reading the challenge: %v", err)
	}
	msg := request(ch.Nonce, h.ID())
	if err := writeFrame(s, msg.encode()); err != nil {
		t.Fatal(err)
	}
	_ = s.CloseWrite()
	_, err = readServer(s)
	return err
}

// joinUnchecked is admitUnchecked for a join with inv under name.
func joinUnchecked(t *testing.T, tn *testNet, inv Invite, name string) error {
	t.Helper()
	return admitUnchecked(t, tn, newKey(t), func(nonce [32]byte, self peer.ID) clientMsg {
		msg := clientMsg{Kind: kindJoin, TokenID: inv.TokenID, Name: name, Role: RoleStudent}
		msg.Proof = joinProof(inv.Secret[:], nonce, tn.bn.id, self, &msg)
		return msg
	})
}

// brokenCA is the bootstrap's CA certificate with another CA's key: the
// x509 library refuses to sign with a key that is not the issuer's.
func brokenCA(t *testing.T, good *CA) *CA {
	t.Helper()
	other, err := LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Issue(IssueRequest{Peer: peerOf(t, newKey(t)), Name: "probe", Role: RoleStudent, Now: time.Now()}); err != nil {
		t.Fatalf("the other CA cannot sign for itself: %v", err)
	}
	bad := *good
	bad.key = other.key
	if _, err := bad.Issue(IssueRequest{Peer: peerOf(t, newKey(t)), Name: "probe", Role: RoleStudent, Now: time.Now()}); err == nil {
		t.Fatal("a CA with the wrong key signed a certificate")
	}
	return &bad
}

// TestSigningFailureSpendsNoUse: when the CA fails to sign a granted join,
// the newcomer hears why, the one-use token keeps its use (in memory, in
// the journal and after a reopen), nobody is recorded as a member, and the
// same token then admits an honest newcomer.
func TestSigningFailureSpendsNoUse(t *testing.T) {
	for _, reopen := range []bool{false, true} {
		name := "same bootstrap"
		if reopen {
			name = "after a reopen"
		}
		t.Run(name, func(t *testing.T) {
			tn := newTestNet(t, nil)
			inv := tn.invite(InviteOptions{Uses: 1})
			good := tn.boot.CA()
			journal := filepath.Join(tn.dir, registryFile+journalSuffix)
			before, _ := os.ReadFile(journal)

			tn.boot.setCA(brokenCA(t, good))
			err := joinUnchecked(t, tn, inv, "alice")
			wantRefused(t, err, "could not sign")
			if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 1 {
				t.Fatalf("token has %d uses left after a failed signing, want 1", tok.UsesLeft)
			}
			if got := len(tn.boot.Registry().Members()); got != 1 {
				t.Fatalf("registry holds %d members after a failed signing, want only the teacher", got)
			}
			if after, _ := os.ReadFile(journal); string(after) != string(before) {
				t.Fatalf("the journal grew by %q after a failed signing", strings.TrimPrefix(string(after), string(before)))
			}

			if reopen {
				tn.stop()
				tn.start(nil) // loads the good CA from disk
				inv.Bootstrap = info(tn.bn.h)
				if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 1 {
					t.Fatalf("reopened, the token has %d uses left, want 1", tok.UsesLeft)
				}
			} else {
				tn.boot.setCA(good)
			}
			k := newKey(t)
			c, err := joinWith(t, k, inv, "alice", RoleStudent)
			if err != nil {
				t.Fatalf("an honest join with the token after the failed signing: %v", err)
			}
			mc, err := ParseMemberCert(c.Cert)
			if err != nil || mc.Peer != peerOf(t, k) {
				t.Fatalf("certificate for %v (%v), want %s", mc, err, peerOf(t, k))
			}
			if tok, _ := tn.boot.Registry().Token(inv.TokenIDString()); tok.UsesLeft != 0 {
				t.Errorf("token has %d uses left after the honest join, want 0", tok.UsesLeft)
			}
			_, err = joinWith(t, newKey(t), inv, "bob", RoleStudent)
			wantRefused(t, err, "no uses left")
		})
	}
}

// TestRenewSigningFailureRecordsNothing: a renewal the CA fails to sign
// leaves the member's record (serials, expiry) as it was.
func TestRenewSigningFailureRecordsNothing(t *testing.T) {
	tn := newTestNet(t, nil)
	k := newKey(t)
	c, err := joinWith(t, k, tn.invite(InviteOptions{}), "alice", RoleStudent)
	if err != nil {
		t.Fatal(err)
	}
	p := peerOf(t, k)
	was, _ := tn.boot.Registry().Member(p)
	tn.boot.setCA(brokenCA(t, tn.boot.CA()))
	err = admitUnchecked(t, tn, k, func([32]byte, peer.ID) clientMsg { return clientMsg{Kind: kindRenew, Cert: c.Cert} })
	wantRefused(t, err, "could not sign")
	now, _ := tn.boot.Registry().Member(p)
	if !slices.Equal(now.Serials, was.Serials) || !now.NotAfter.Equal(was.NotAfter) {
		t.Fatalf("a failed renewal changed the record: serials %v → %v, expiry %v → %v", was.Serials, now.Serials, was.NotAfter, now.NotAfter)
	}
}
