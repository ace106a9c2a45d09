package membership

import "github.com/libp2p/go-libp2p/core/peer"

// VerifyCert checks that der is a member certificate of this network for
// peer p, unexpired and not revoked now: what a node checks of the sender
// of a message that reached it through others.
func (m *Membership) VerifyCert(der []byte, p peer.ID) (*MemberCert, error) {
	return m.verify.Verify(der, p, m.cfg.Now())
}
