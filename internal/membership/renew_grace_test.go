package membership

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestCheckRenewal: a certificate renews while valid and up to RenewGrace
// after it expired; past the grace, revoked, or presented by another peer,
// it does not, and the refusal says why.
func TestCheckRenewal(t *testing.T) {
	ca := newCA(t)
	p, q := randomPeer(t), randomPeer(t)
	issued := time.Now()
	mc, err := ca.Issue(IssueRequest{Peer: p, Name: "s1234", Role: RoleStudent, Now: issued, TTL: DefaultCertTTL})
	if err != nil {
		t.Fatal(err)
	}
	expiry := mc.NotAfter
	for _, c := range []struct {
		name    string
		remote  peer.ID
		at      time.Time
		revoked bool
		want    error
		says    string
	}{
		{"valid", p, issued.Add(time.Hour), false, nil, ""},
		{"expired a day ago", p, expiry.Add(24 * time.Hour), false, nil, ""},
		{"expired the grace ago, to the hour", p, expiry.Add(RenewGrace), false, nil, ""},
		{"past the grace", p, expiry.Add(RenewGrace + time.Hour), false, ErrExpired, "grace"},
		{"revoked, expired a day ago", p, expiry.Add(24 * time.Hour), true, ErrRevoked, ""},
		{"another peer presents it", q, expiry.Add(24 * time.Hour), false, ErrPeerMismatch, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewVerifier(ca.CertDER(), func(s *big.Int, _ peer.ID) bool { return c.revoked && s.Cmp(mc.Serial) == 0 })
			if err != nil {
				t.Fatal(err)
			}
			err = checkRenewal(v, mc.DER, c.remote, c.at)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.says)) {
				t.Fatalf("checkRenewal: %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
}
