package membership

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Message kinds on /p2pshare/admit/1.0.0. The bootstrap speaks first (a
// challenge, a busy reply if too many newcomers are ahead, or a refusal if
// it will not talk), the newcomer answers with a join or renew request, the
// bootstrap ends with a grant or a refusal. While a teacher decides on a
// join, the bootstrap says every few seconds that the newcomer waits.
const (
	kindChallenge byte = 'C'
	// kindCoordChallenge is a coordinator's challenge: a challenge that
	// also carries the coordinator's certificate, whose key signs.
	kindCoordChallenge byte = 'D'
	kindBusy           byte = 'B'
	kindRefusal        byte = 'R'
	kindGrant          byte = 'G'
	kindWaiting        byte = 'W'
	kindJoin           byte = 'J'
	kindRenew          byte = 'N'
)

// Size limits of admission messages, in bytes.
const (
	maxReason    = 1024
	maxRetryMs   = 10 * 60 * 1000 // a busy reply asks for at most 10 minutes' patience
	maxRoleLen   = 16
	maxCRL       = 1 << 20
	maxServerMsg = 1 + 4 + maxCertDER + 4 + maxCRL + 2 + maxCertDER + 2 + maxCertDER
	maxClientMsg = 1 + 2 + maxCertDER + 16 + 1 + maxNameLen + 1 + maxRoleLen + 32
)

// serverMsg is a message from the bootstrap; Kind says which fields count.
type serverMsg struct {
	Kind byte
	// challenge
	CA    []byte // the network root certificate, DER
	Nonce [32]byte
	Sig   [64]byte // CA signature over transcript("sig", …)
	// Coord is a coordinator's certificate (kindCoordChallenge): its key,
	// not the root's, made Sig.
	Coord []byte
	// refusal, busy and waiting
	Reason string
	// busy: when to ask again, in milliseconds
	RetryMs uint32
	// grant
	Cert []byte // the member certificate, DER
	CRL  []byte // the current CRL, DER; empty if none yet
	// Self is the bootstrap's own member certificate, so the newcomer can
	// count it a member over the connection its admission opened, which
	// it goes on using, without another credential exchange.
	Self []byte
}

// clientMsg is a newcomer's or member's request.
type clientMsg struct {
	Kind byte
	// join
	TokenID [16]byte
	Name    string
	Role    Role
	Proof   [32]byte // HMAC-SHA256(secret, transcript("proof", …))
	// renew
	Cert []byte // the member's current certificate
}

func (m *serverMsg) encode() []byte {
	e := enc{b: []byte{m.Kind}}
	switch m.Kind {
	case kindChallenge, kindCoordChallenge:
		e.bytes16(m.CA)
		e.raw(m.Nonce[:])
		e.raw(m.Sig[:])
		if m.Kind == kindCoordChallenge {
			e.bytes16(m.Coord)
		}
	case kindRefusal, kindWaiting:
		e.bytes16([]byte(m.Reason))
	case kindBusy:
		e.u32(int(m.RetryMs))
		e.bytes16([]byte(m.Reason))
	case kindGrant:
		e.bytes16(m.Cert)
		e.bytes32(m.CRL)
		e.bytes16(m.Self)
	}
	return e.b
}

// decodeServerMsg decodes a bootstrap message; it checks sizes and shape,
// not signatures.
func decodeServerMsg(b []byte) (serverMsg, error) {
	d := dec{what: "admission reply", b: b}
	m := serverMsg{Kind: d.u8("kind")}
	switch m.Kind {
	case kindChallenge, kindCoordChallenge:
		m.CA = d.bytes16("CA certificate", maxCertDER)
		copy(m.Nonce[:], d.take(32, "nonce"))
		copy(m.Sig[:], d.take(64, "signature"))
		if m.Kind == kindCoordChallenge {
			m.Coord = d.bytes16("coordinator certificate", maxCertDER)
		}
	case kindRefusal, kindWaiting:
		m.Reason = d.reason()
	case kindBusy:
		m.RetryMs = uint32(d.u32("retry-after"))
		if d.err == nil && m.RetryMs > maxRetryMs {
			d.fail("retry-after of %d ms (limit %d)", m.RetryMs, maxRetryMs)
		}
		m.Reason = d.reason()
	case kindGrant:
		m.Cert = d.bytes16("certificate", maxCertDER)
		m.CRL = d.bytes32("CRL", maxCRL)
		m.Self = d.bytes16("bootstrap's certificate", maxCertDER)
	default:
		d.fail("unknown kind %#x", m.Kind)
	}
	if err := d.finish(); err != nil {
		return serverMsg{}, err
	}
	return m, nil
}

// reason reads a refusal's or busy reply's UTF-8 text.
func (d *dec) reason() string {
	r := d.bytes16("reason", maxReason)
	if d.err == nil && !utf8.Valid(r) {
		d.fail("reason is not UTF-8")
	}
	return string(r)
}

func (m *clientMsg) encode() []byte {
	e := enc{b: []byte{m.Kind}}
	switch m.Kind {
	case kindJoin:
		e.raw(m.TokenID[:])
		e.bytes8([]byte(m.Name))
		e.bytes8([]byte(m.Role))
		e.raw(m.Proof[:])
	case kindRenew:
		e.bytes16(m.Cert)
	}
	return e.b
}

// decodeClientMsg decodes a join or renew request; the name and role are
// checked for shape, the proof and certificate by the bootstrap.
func decodeClientMsg(b []byte) (clientMsg, error) {
	d := dec{what: "admission request", b: b}
	m := clientMsg{Kind: d.u8("kind")}
	switch m.Kind {
	case kindJoin:
		copy(m.TokenID[:], d.take(16, "token ID"))
		m.Name = string(d.bytes8("name", maxNameLen))
		m.Role = Role(d.bytes8("role", maxRoleLen))
		copy(m.Proof[:], d.take(32, "proof"))
		if d.err == nil {
			if err := validName(m.Name); err != nil {
				d.fail("%v", err)
			} else if err := validRole(m.Role); err != nil {
				d.fail("%v", err)
			}
		}
	case kindRenew:
		m.Cert = d.bytes16("certificate", maxCertDER)
	default:
		d.fail("unknown kind %#x", m.Kind)
	}
	if err := d.finish(); err != nil {
		return clientMsg{}, err
	}
	return m, nil
}

// transcript is what the challenge signature and the token proof cover:
// a label, the nonce, and both authenticated peer IDs of this libp2p
// session, so neither can be replayed on another session or relayed by an
// impostor (who would have to connect under its own peer ID). The proof
// also covers what it asks for.
func transcript(label string, nonce [32]byte, bootstrap, newcomer peer.ID, extra ...[]byte) []byte {
	e := enc{b: []byte("p2pshare/admit/1 " + label + "\x00")}
	e.raw(nonce[:])
	e.bytes8([]byte(bootstrap))
	e.bytes8([]byte(newcomer))
	for _, x := range extra {
		e.bytes8(x)
	}
	return e.b
}

// joinProof is HMAC-SHA256(secret, transcript) for a join request.
func joinProof(secret []byte, nonce [32]byte, bootstrap, newcomer peer.ID, m *clientMsg) [32]byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(transcript("proof", nonce, bootstrap, newcomer, m.TokenID[:], []byte(m.Name), []byte(m.Role)))
	var out [32]byte
	copy(out[:], mac.Sum(nil))
	return out
}

// credentialMsg is what each side of a connection sends on
// /p2pshare/member/1.0.0: its member certificate, and the number of the
// newest CRL it holds, so the side with the older list gets the newer.
type credentialMsg struct {
	Cert      []byte
	CRLNumber uint64
}

const (
	credentialVersion = 1
	maxCredentialMsg  = 1 + 2 + maxCertDER + 8
)

func (m *credentialMsg) encode() []byte {
	e := enc{b: []byte{credentialVersion}}
	e.bytes16(m.Cert)
	e.u64(m.CRLNumber)
	return e.b
}

// decodeCredential decodes a credential message; Verifier.Verify checks the
// certificate.
func decodeCredential(b []byte) (credentialMsg, error) {
	d := dec{what: "credential", b: b}
	if v := d.u8("version"); d.err == nil && v != credentialVersion {
		d.fail("version %d, want %d", v, credentialVersion)
	}
	m := credentialMsg{Cert: bytes.Clone(d.bytes16("certificate", maxCertDER)), CRLNumber: d.u64("CRL number")}
	if err := d.finish(); err != nil {
		return credentialMsg{}, err
	}
	return m, nil
}
