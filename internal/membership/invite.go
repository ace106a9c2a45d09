package membership

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// InvitePrefix starts every invite string.
const InvitePrefix = "p2pshare://"

// Invite limits: an invite is pasted by hand, so it stays short.
const (
	inviteVersion = 1
	// inviteVersionCoords is an invite that also names coordinators.
	inviteVersionCoords = 2
	maxInviteCoords     = 8
	maxCoordAddrs       = 4
	maxInviteChars      = 4096
	maxInviteAddrs      = 16
	maxAddrBytes        = 256
	maxPeerIDBytes      = 64
)

// Invite is what a newcomer needs to join a network: where the bootstrap is,
// the fingerprint of the network's CA (so a fake bootstrap is refused before
// the token leaves the newcomer), and a join token.
//
// Its string form is p2pshare:// followed by the unpadded base64url of:
// version (1 byte, 1), CA fingerprint (32), token ID (16), secret (32),
// expiry (8, Unix seconds, big-endian), bootstrap peer ID (1-byte length +
// bytes), address count (1 byte, 1–16), then each address (2-byte length +
// multiaddr bytes, without /p2p). Version 2 follows with the coordinators:
// a count (1 byte, 1–8), then for each its peer ID (1-byte length + bytes),
// address count (1 byte, 1–4) and addresses as above. An invite that names
// no coordinator is written as version 1.
type Invite struct {
	Bootstrap     peer.AddrInfo
	CAFingerprint [32]byte
	TokenID       [16]byte
	Secret        [32]byte  // 256 bits; the bootstrap keeps a copy
	Expires       time.Time // whole seconds
	// Coordinators are further nodes that admit with this invite (a
	// coordinator group's members when it was made), tried in turn when
	// the bootstrap cannot be reached.
	Coordinators []peer.AddrInfo
}

// newTokenSecret makes a fresh random token ID and secret.
func newTokenSecret() (id [16]byte, secret [32]byte, err error) {
	if _, err = rand.Read(id[:]); err != nil {
		return
	}
	_, err = rand.Read(secret[:])
	return
}

// TokenIDString is the token ID in hex, as the registry and logs name it.
func (i Invite) TokenIDString() string { return hex.EncodeToString(i.TokenID[:]) }

// String is the copy-pasteable form.
func (i Invite) String() string {
	var e enc
	if len(i.Coordinators) > 0 {
		e.u8(inviteVersionCoords)
	} else {
		e.u8(inviteVersion)
	}
	e.raw(i.CAFingerprint[:])
	e.raw(i.TokenID[:])
	e.raw(i.Secret[:])
	e.u64(uint64(i.Expires.Unix()))
	e.bytes8([]byte(i.Bootstrap.ID))
	e.u8(byte(len(i.Bootstrap.Addrs)))
	for _, a := range i.Bootstrap.Addrs {
		e.bytes16(a.Bytes())
	}
	if len(i.Coordinators) > 0 {
		e.u8(byte(len(i.Coordinators)))
		for _, c := range i.Coordinators {
			e.bytes8([]byte(c.ID))
			e.u8(byte(len(c.Addrs)))
			for _, a := range c.Addrs {
				e.bytes16(a.Bytes())
			}
		}
	}
	return InvitePrefix + base64.RawURLEncoding.EncodeToString(e.b)
}

// ParseInvite decodes an invite string; surrounding whitespace (from a paste
// or a file) is ignored. It does not check the expiry: Join does, against
// the clock.
func ParseInvite(s string) (Invite, error) {
	var inv Invite
	s = strings.TrimSpace(s)
	if len(s) > maxInviteChars {
		return inv, fmt.Errorf("membership: invite of %d characters (limit %d): %w", len(s), maxInviteChars, ErrBadInvite)
	}
	rest, ok := strings.CutPrefix(s, InvitePrefix)
	if !ok {
		return inv, fmt.Errorf("membership: invite %.24q… does not start with %s: %w", s, InvitePrefix, ErrBadInvite)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return inv, fmt.Errorf("membership: invite is not base64url after %s: %v: %w", InvitePrefix, err, ErrBadInvite)
	}
	d := dec{what: "invite", b: b}
	v := d.u8("version")
	if d.err == nil && v != inviteVersion && v != inviteVersionCoords {
		return inv, fmt.Errorf("membership: invite version %d, this program reads %d and %d: %w", v, inviteVersion, inviteVersionCoords, ErrBadInvite)
	}
	copy(inv.CAFingerprint[:], d.take(32, "CA fingerprint"))
	copy(inv.TokenID[:], d.take(16, "token ID"))
	copy(inv.Secret[:], d.take(32, "token secret"))
	exp := d.u64("expiry")
	if exp > 1<<40 {
		d.fail("expiry %d is not a plausible Unix time", exp)
	}
	inv.Expires = time.Unix(int64(exp), 0).UTC()
	if id := d.bytes8("bootstrap peer ID", maxPeerIDBytes); d.err == nil {
		p, err := peer.IDFromBytes(id)
		if err != nil {
			d.fail("bootstrap peer ID: %v", err)
		}
		inv.Bootstrap.ID = p
	}
	n := int(d.u8("address count"))
	if d.err == nil && (n == 0 || n > maxInviteAddrs) {
		d.fail("%d bootstrap addresses, want 1 to %d", n, maxInviteAddrs)
	}
	for k := 0; k < n && d.err == nil; k++ {
		ab := d.bytes16(fmt.Sprintf("address %d", k), maxAddrBytes)
		if d.err != nil {
			break
		}
		a, err := ma.NewMultiaddrBytes(ab)
		if err != nil {
			d.fail("address %d: %v", k, err)
			break
		}
		inv.Bootstrap.Addrs = append(inv.Bootstrap.Addrs, a)
	}
	if v == inviteVersionCoords && d.err == nil {
		inv.Coordinators = d.coordinators()
	}
	if err := d.finish(); err != nil {
		return Invite{}, fmt.Errorf("%w (%w)", err, ErrBadInvite)
	}
	return inv, nil
}

// coordinators reads a version 2 invite's coordinators.
func (d *dec) coordinators() []peer.AddrInfo {
	n := int(d.u8("coordinator count"))
	if d.err == nil && (n == 0 || n > maxInviteCoords) {
		d.fail("%d coordinators, want 1 to %d", n, maxInviteCoords)
	}
	var out []peer.AddrInfo
	for k := 0; k < n && d.err == nil; k++ {
		id := d.bytes8(fmt.Sprintf("coordinator %d peer ID", k), maxPeerIDBytes)
		if d.err != nil {
			break
		}
		p, err := peer.IDFromBytes(id)
		if err != nil {
			d.fail("coordinator %d peer ID: %v", k, err)
			break
		}
		ai := peer.AddrInfo{ID: p}
		na := int(d.u8(fmt.Sprintf("coordinator %d address count", k)))
		if d.err == nil && (na == 0 || na > maxCoordAddrs) {
			d.fail("coordinator %d has %d addresses, want 1 to %d", k, na, maxCoordAddrs)
		}
		for j := 0; j < na && d.err == nil; j++ {
			ab := d.bytes16(fmt.Sprintf("coordinator %d address %d", k, j), maxAddrBytes)
			if d.err != nil {
				break
			}
			a, err := ma.NewMultiaddrBytes(ab)
			if err != nil {
				d.fail("coordinator %d address %d: %v", k, j, err)
				break
			}
			ai.Addrs = append(ai.Addrs, a)
		}
		out = append(out, ai)
	}
	return out
}

// inviteCoords is what of cs an invite can name: up to maxInviteCoords
// coordinators other than self, each with up to maxCoordAddrs addresses
// (those with none are left out).
func inviteCoords(cs []peer.AddrInfo, self peer.ID) []peer.AddrInfo {
	var out []peer.AddrInfo
	for _, c := range cs {
		if c.ID == self || len(c.Addrs) == 0 || len(out) == maxInviteCoords {
			continue
		}
		out = append(out, peer.AddrInfo{ID: c.ID, Addrs: c.Addrs[:min(len(c.Addrs), maxCoordAddrs)]})
	}
	return out
}
