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

// TestInviteNamesCoordinators: an invite that names coordinators keeps
// them through its string; one that names none is written as before
// (version 1), so older programs read it.
func TestInviteNamesCoordinators(t *testing.T) {
	inv := sampleInvite(t)
	v1 := inv.String()
	b, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v1, InvitePrefix))
	if b[0] != 1 {
		t.Fatalf("an invite without coordinators is version %d, want 1", b[0])
	}
	var cs []peer.AddrInfo
	for range 10 {
		cs = append(cs, peer.AddrInfo{ID: randomPeer(t), Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/10.0.0.1/tcp/4001"), ma.StringCast("/ip4/10.0.0.2/tcp/4001"), ma.StringCast("/ip4/10.0.0.3/tcp/4001"),
			ma.StringCast("/ip4/10.0.0.4/tcp/4001"), ma.StringCast("/ip4/10.0.0.5/tcp/4001")}})
	}
	cs = append([]peer.AddrInfo{{ID: inv.Bootstrap.ID, Addrs: inv.Bootstrap.Addrs}, {ID: randomPeer(t)}}, cs...)
	inv.Coordinators = inviteCoords(cs, inv.Bootstrap.ID)
	if len(inv.Coordinators) != 8 || len(inv.Coordinators[0].Addrs) != 4 {
		t.Fatalf("kept %d coordinators, the first with %d addresses; want 8 with 4 (not the bootstrap, not one without an address)", len(inv.Coordinators), len(inv.Coordinators[0].Addrs))
	}
	s := inv.String()
	got, err := ParseInvite(s)
	if err != nil {
		t.Fatalf("an invite naming coordinators (%d chars): %v", len(s), err)
	}
	if got.String() != s || len(got.Coordinators) != 8 || got.Coordinators[7].ID != inv.Coordinators[7].ID ||
		!got.Coordinators[7].Addrs[3].Equal(inv.Coordinators[7].Addrs[3]) {
		t.Fatalf("round trip changed the coordinators: %+v", got.Coordinators)
	}
	// A version 2 invite whose coordinator count is 0 is malformed: it
	// would have been written as version 1.
	b, _ = base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v1, InvitePrefix))
	b[0] = 2
	if _, err := ParseInvite(InvitePrefix + base64.RawURLEncoding.EncodeToString(append(b, 0))); !errors.Is(err, ErrBadInvite) || !strings.Contains(err.Error(), "0 coordinators") {
		t.Errorf("a version 2 invite naming 0 coordinators: got %v, want ErrBadInvite saying so", err)
	}
}
