package p2pshare

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// InviteInfo is what an invite says, as ParseInvite reads it, without its
// secret.
type InviteInfo struct {
	// Network names the network the invite admits to: the hex SHA-256 of
	// its CA's public key, as a member's certificate names it too.
	Network string
	// Bootstrap is the network's bootstrap node, which admits newcomers.
	Bootstrap peer.AddrInfo
	// Expires is when the invite stops admitting newcomers.
	Expires time.Time
}

// ParseInvite reads an invite string, as Swarm.Invite made it (whitespace
// around it is ignored), so a program can tell which network it is for —
// to keep one DataDir per network, say — before joining with it. An error
// says what is wrong with the string and wraps ErrBadInvite. It does not
// check the expiry.
func ParseInvite(s string) (InviteInfo, error) {
	inv, err := membership.ParseInvite(s)
	if err != nil {
		return InviteInfo{}, public("", err)
	}
	return InviteInfo{Network: hex.EncodeToString(inv.CAFingerprint[:]), Bootstrap: inv.Bootstrap, Expires: inv.Expires}, nil
}

// parseInvite reads Config.Invite for joining with it at now.
func parseInvite(s string, now time.Time) (membership.Invite, error) {
	inv, err := membership.ParseInvite(s)
	if err != nil {
		return inv, public("Config.Invite", err)
	}
	if !now.Before(inv.Expires) {
		return inv, errorOf(ErrInviteExpired, nil, "Config.Invite expired at %s; the network's bootstrap makes new ones",
			inv.Expires.UTC().Format(time.RFC3339))
	}
	return inv, nil
}

// sameNetwork checks that the network whose CA certificate dir holds is
// the one inv (if any) is for.
func sameNetwork(dir string, caDER []byte, inv *membership.Invite) error {
	if inv == nil {
		return nil
	}
	ca, err := membership.ParseCACert(caDER)
	if err != nil {
		return fmt.Errorf("p2pshare: Config.DataDir: the network's CA certificate: %w", err)
	}
	if have := membership.Fingerprint(ca); have != inv.CAFingerprint {
		return errorOf(ErrWrongNetwork, nil, "Config.DataDir %s belongs to network %x…, but Config.Invite is for network %x…: each network needs a DataDir of its own",
			dir, have[:8], inv.CAFingerprint[:8])
	}
	return nil
}

// ownRevoked reports, wrapping ErrRevoked, a member certificate that the
// revocation list kept with it lists.
func ownRevoked(c membership.Credentials) error {
	if len(c.CRL) == 0 {
		return nil
	}
	cert, err := x509.ParseCertificate(c.Cert)
	if err != nil {
		return nil // membership.New says what is wrong with it
	}
	crl, err := x509.ParseRevocationList(c.CRL)
	if err != nil {
		return nil
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return errorOf(ErrRevoked, nil, "this node's member certificate (serial %x) was revoked at %s (revocation list %v)",
				cert.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339), crl.Number)
		}
	}
	return nil
}
