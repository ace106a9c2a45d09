package mailbox

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrUnsigned is returned for a parked item whose signature does not
// prove that its Sender parked it for its owner.
var ErrUnsigned = errors.New("mailbox: not signed by its sender")

// itemLabel separates a parking signature from every other signature a
// member's key makes.
const itemLabel = "p2pshare parked message v1\x00"

// signedPart is what a sender signs to park sealed bytes with this ID for
// owner. It leaves out the expiry, which every holder caps by its own
// clock, so a holder can pass the item on unchanged.
func signedPart(owner peer.ID, id ItemID) []byte {
	b := []byte(itemLabel)
	b = field16(b, []byte(owner))
	return append(b, id[:]...)
}

// Sign makes it, parked for owner, attributable to the member whose key
// is key and whose member certificate is cert: it sets Sender, Cert and
// Sig. A holder charges the item to that member, whoever hands it over,
// so a member cannot spend another's quota, and holders can pass an inbox
// on to each other without it being charged to them.
func Sign(key crypto.PrivKey, cert []byte, owner peer.ID, it *Item) error {
	sender, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("mailbox: sender key: %w", err)
	}
	sig, err := key.Sign(signedPart(owner, IDOf(it.Sealed)))
	if err != nil {
		return fmt.Errorf("mailbox: signing a parked message: %w", err)
	}
	it.Sender, it.Cert, it.Sig = sender, cert, sig
	return nil
}

// Verify checks that it.Sig is it.Sender's signature of parking it for
// owner. Whether Sender is a member is the caller's check, on it.Cert.
func Verify(owner peer.ID, it Item) error {
	pub, err := it.Sender.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("%w: sender %q is not a peer ID with a key: %v", ErrUnsigned, it.Sender, err)
	}
	ok, err := pub.Verify(signedPart(owner, IDOf(it.Sealed)), it.Sig)
	if err != nil || !ok {
		return fmt.Errorf("%w: message %s claims sender %s, whose key did not sign it", ErrUnsigned, IDOf(it.Sealed), it.Sender)
	}
	return nil
}
