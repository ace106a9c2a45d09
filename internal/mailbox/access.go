package mailbox

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNotOwner is returned for a request that only the inbox's owner may
// make, made by another member.
var ErrNotOwner = errors.New("mailbox: only the inbox's owner may ask this")

// Authorize decides whether remote, the peer at the other end of the
// stream (proven by its key in the connection's handshake), may make req.
// Any member may park messages (the holder checks that their owner is a
// member and that each is signed by one). Only the owner may collect its
// messages, delete them, or list what waits in its inbox; another member
// (a holder replicating the inbox) may only ask which of the IDs it names
// are held, which tells it nothing about messages it does not already
// hold itself.
func Authorize(req Request, remote peer.ID) error {
	if req.Op == OpPut || remote == req.Owner {
		return nil
	}
	switch req.Op {
	case OpHave:
		if len(req.IDs) > 0 {
			return nil
		}
		return fmt.Errorf("%w: %s asked to list the inbox of %s", ErrNotOwner, remote, req.Owner)
	case OpTake:
		return fmt.Errorf("%w: %s asked to collect the messages of %s", ErrNotOwner, remote, req.Owner)
	default:
		return fmt.Errorf("%w: %s asked to delete messages of %s", ErrNotOwner, remote, req.Owner)
	}
}
