package membership

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

func sampleInvite(t testing.TB) Invite {
	inv := Invite{
		Bootstrap: peer.AddrInfo{ID: randomPeer(t), Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/192.168.1.10/tcp/4001"), ma.StringCast("/ip6/::1/udp/4001/quic-v1"),
		}},
		Expires: time.Unix(1_900_000_000, 0).UTC(),
	}
	inv.CAFingerprint[0], inv.TokenID[0], inv.Secret[0] = 1, 2, 3
	return inv
}

func TestInviteRoundTrip(t *testing.T) {
	inv := sampleInvite(t)
	s := inv.String()
	if !strings.HasPrefix(s, InvitePrefix) || len(s) > 400 {
		t.Fatalf("invite %q (%d chars)", s, len(s))
	}
	got, err := ParseInvite("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != s || got.Bootstrap.ID != inv.Bootstrap.ID || !got.Expires.Equal(inv.Expires) ||
		got.Secret != inv.Secret || len(got.Bootstrap.Addrs) != 2 || !got.Bootstrap.Addrs[1].Equal(inv.Bootstrap.Addrs[1]) {
		t.Fatalf("round trip changed the invite: %+v", got)
	}
}

func TestParseInviteErrors(t *testing.T) {
	good := sampleInvite(t).String()
	body, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(good, InvitePrefix))
	enc := func(b []byte) string { return InvitePrefix + base64.RawURLEncoding.EncodeToString(b) }
	with := func(i int, v byte) string {
		b := append([]byte(nil), body...)
		b[i] = v
		return enc(b)
	}
	cases := []struct{ name, in, want string }{
		{"empty", "", "does not start with p2pshare://"},
		{"wrong scheme", "https://example.com", "does not start with"},
		{"not base64", InvitePrefix + "!!!", "not base64url"},
		{"newer version", with(0, 9), "version 9"},
		{"truncated", enc(body[:60]), "truncated at token secret"},
		{"trailing bytes", enc(append(append([]byte(nil), body...), 0)), "1 trailing bytes"},
		{"no addresses", enc(body[:len(body)-countAddrBytes(t, body)]), "truncated at address count"},
		{"too long", InvitePrefix + strings.Repeat("A", maxInviteChars), "characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInvite(tc.in)
			if !errors.Is(err, ErrBadInvite) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadInvite saying %q", err, tc.want)
			}
		})
	}
}

// countAddrBytes is the length of the address part (count byte onwards)
// of an encoded invite body.
func countAddrBytes(t testing.TB, body []byte) int {
	d := dec{b: body}
	d.take(1+32+16+32+8, "fixed")
	d.bytes8("peer", maxPeerIDBytes)
	if d.err != nil {
		t.Fatal(d.err)
	}
	return len(body) - d.off
}
