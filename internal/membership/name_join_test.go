package membership

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// TestLookalikeNamesRefused: once s1234 has joined, a second student
// cannot take its name in another case, with a look-alike letter or with
// an invisible character, even with a client that skips its own check of
// the name; the refusal names the bad character and its position.
func TestLookalikeNamesRefused(t *testing.T) {
	tn := newTestNet(t, nil)
	class := tn.invite(InviteOptions{Uses: 20})
	if _, err := joinWith(t, newKey(t), class, "s1234", RoleStudent); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{
		{"S1234", `name "S1234" is already held by peer`},
		{"ſ1234", `character 1, 'ſ' (U+017F), is a compatibility form of "s"`},
		{"s1234\u200b", `character 6, '\u200b' (U+200B), is invisible`},
		{"\u202es1234", `character 1, '\u202e' (U+202E), is invisible`},
		{"ѕ1234", `is already held by peer`},
		{"s1234x\u0430", `character 7, 'а' (U+0430), is Cyrillic, but character 1, 's', is Latin`},
		{"ｓ1234", `character 1, 'ｓ' (U+FF53), is a compatibility form of "s"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rawJoin(t, newKey(t), class, c.name)
			wantRefused(t, err, c.want)
			// Join itself says so before it asks.
			if _, err := joinWith(t, newKey(t), class, c.name, RoleStudent); err == nil {
				t.Errorf("Join(%q) succeeded", c.name)
			}
		})
	}
	if got := len(tn.boot.Registry().Members()); got != 2 {
		t.Errorf("%d members, want the teacher and s1234", got)
	}
}

// rawJoin is Join without its own check of the name: what a modified
// client sends.
func rawJoin(t testing.TB, k crypto.PrivKey, inv Invite, name string) (Credentials, error) {
	t.Helper()
	h := plainHost(t, k)
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	msg := clientMsg{Kind: kindJoin, TokenID: inv.TokenID, Name: name, Role: RoleStudent}
	return exchangeAdmission(ctx, h, inv.Bootstrap, inv.CAFingerprint, nil, func(nonce [32]byte, bootstrap peer.ID) clientMsg {
		msg.Proof = joinProof(inv.Secret[:], nonce, bootstrap, h.ID(), &msg)
		return msg
	})
}
