// Package mailbox parks sealed private messages for members who are
// offline: the nodes closest to a member's inbox key hold them until the
// member collects them, deletes them, or they expire. A holder cannot read
// what it holds (package message seals it to the recipient); it only keeps
// it within quotas. The store and the wire codec here do no network I/O;
// p2pshare runs the protocol and the replication rounds.
package mailbox

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Quotas a holder enforces.
const (
	MaxPerSender = 32       // messages one member may park for one recipient
	MaxPerInbox  = 256      // messages parked for one recipient in all
	MaxBytes     = 64 << 20 // bytes a holder keeps in all
)

// ErrQuota is returned when parking would exceed a quota.
var ErrQuota = errors.New("mailbox: quota exceeded")

// ItemID names a parked message by its content, which the holder cannot
// open: the first 16 bytes of the SHA-256 of the sealed bytes.
type ItemID [16]byte

func (id ItemID) String() string { return hex.EncodeToString(id[:]) }

// IDOf returns the ItemID of sealed.
func IDOf(sealed []byte) ItemID {
	h := sha256.Sum256(sealed)
	var id ItemID
	copy(id[:], h[:16])
	return id
}

// Item is one parked message.
type Item struct {
	Sealed []byte
	Sender peer.ID   // the member that parked it, proven by Sig and Cert
	Expiry time.Time // second precision
	Cert   []byte    // Sender's member certificate
	Sig    []byte    // Sender's signature of parking it for its owner (Sign)
}

// size is what the item counts against MaxBytes.
func (it Item) size() int { return len(it.Sealed) + len(it.Cert) + len(it.Sig) }

// inbox is what a holder keeps for one recipient.
type inbox struct {
	items map[ItemID]Item
	cert  []byte // the owner's member certificate, if a sender gave one
}

// Store is a holder's parked messages, by recipient. It is safe for
// concurrent use.
type Store struct {
	mu      sync.Mutex
	inboxes map[peer.ID]*inbox
	gone    map[ItemID]time.Time // deleted by their recipient: refused until expiry
	bytes   int
	d       ds.Batching // keeps all of it across restarts; nil for none (persist.go)
}

// NewStore returns an empty store that keeps nothing across restarts
// (OpenStore does).
func NewStore() *Store {
	return &Store{inboxes: map[peer.ID]*inbox{}, gone: map[ItemID]time.Time{}}
}

// items is owner's items, nil if none; the caller holds s.mu.
func (s *Store) items(owner peer.ID) map[ItemID]Item {
	if box := s.inboxes[owner]; box != nil {
		return box.items
	}
	return nil
}

// Put parks it for owner unless it is expired, already held, deleted by
// its owner, or over a quota; it is charged to it.Sender, which the
// caller has checked (Verify, and it.Cert). It reports whether the item
// is now held.
func (s *Store) Put(owner peer.ID, it Item, now time.Time) (bool, error) {
	if !now.Before(it.Expiry) {
		return false, nil
	}
	id := IDOf(it.Sealed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.gone[id]; ok {
		return false, nil
	}
	box := s.items(owner)
	if _, ok := box[id]; ok {
		return true, nil
	}
	if len(box) >= MaxPerInbox {
		return false, fmt.Errorf("%w: %d messages already wait for %s", ErrQuota, len(box), owner)
	}
	from := 0
	for _, o := range box {
		if o.Sender == it.Sender {
			from++
		}
	}
	if from >= MaxPerSender {
		return false, fmt.Errorf("%w: %s already has %d messages waiting for %s", ErrQuota, it.Sender, from, owner)
	}
	if s.bytes+it.size() > MaxBytes {
		return false, fmt.Errorf("%w: holder full (%d bytes)", ErrQuota, s.bytes)
	}
	if err := s.keep(owner, id, it); err != nil {
		return false, err
	}
	if box == nil {
		box = map[ItemID]Item{}
		s.inboxes[owner] = &inbox{items: box}
	}
	box[id] = it
	s.bytes += it.size()
	return true, nil
}

// KeepCert keeps cert, the member certificate of owner, with owner's inbox
// if it has none yet: a holder passes it on with the inbox to holders that
// have not met the owner. It does nothing if nothing is held for owner.
func (s *Store) KeepCert(owner peer.ID, cert []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if box := s.inboxes[owner]; box != nil && box.cert == nil && len(cert) > 0 {
		box.cert = cert
		s.keepCert(owner, cert)
	}
}

// Cert is the member certificate kept with owner's inbox, or nil.
func (s *Store) Cert(owner peer.ID) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if box := s.inboxes[owner]; box != nil {
		return box.cert
	}
	return nil
}

// IDs lists the items held for owner.
func (s *Store) IDs(owner peer.ID) []ItemID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ItemID, 0, len(s.items(owner)))
	for id := range s.items(owner) {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out
}

// Have returns those of ids that are held for owner, in the order given.
func (s *Store) Have(owner peer.ID, ids []ItemID) []ItemID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ItemID
	for _, id := range ids {
		if _, ok := s.items(owner)[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// Items returns the items held for owner, oldest expiry first (then by
// ID, so that pages of them are stable).
func (s *Store) Items(owner peer.ID) []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, items := s.sorted(owner)
	return items
}

// Page is the reply to owner's OpTake that leaves out skip: the first of
// owner's items, in the order of Items, within budget bytes, and whether
// more are left (see Page).
func (s *Store) Page(owner peer.ID, skip []ItemID, budget int) ([]Item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, items := s.sorted(owner)
	return Page(ids, items, skip, budget)
}

// sorted returns owner's items and their IDs in the order of Items; the
// caller holds s.mu.
func (s *Store) sorted(owner peer.ID) ([]ItemID, []Item) {
	box := s.items(owner)
	ids := make([]ItemID, 0, len(box))
	for id := range box {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := box[ids[i]], box[ids[j]]
		if !a.Expiry.Equal(b.Expiry) {
			return a.Expiry.Before(b.Expiry)
		}
		return string(ids[i][:]) < string(ids[j][:])
	})
	items := make([]Item, len(ids))
	for i, id := range ids {
		items[i] = box[id]
	}
	return ids, items
}

// Owners lists the recipients this store holds messages for.
func (s *Store) Owners() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]peer.ID, 0, len(s.inboxes))
	for o := range s.inboxes {
		out = append(out, o)
	}
	return out
}

// Delete removes owner's items ids, as their recipient asks once it has
// them, and refuses them from then on until they expire.
func (s *Store) Delete(owner peer.ID, ids []ItemID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	box := s.items(owner)
	f := s.forget()
	for _, id := range ids {
		exp := time.Now().Add(7 * 24 * time.Hour)
		if it, ok := box[id]; ok {
			exp = it.Expiry
			s.bytes -= it.size()
			delete(box, id)
			f.item(owner, id)
		}
		s.gone[id] = exp
		f.refuse(id, exp)
	}
	if len(box) == 0 {
		if s.inboxes[owner] != nil {
			f.cert(owner)
		}
		delete(s.inboxes, owner)
	}
	f.commit()
}

// Drop forgets owner's inbox without refusing its items later: what a
// holder does when it is no longer among the inbox's closest nodes.
func (s *Store) Drop(owner peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.forget()
	for id, it := range s.items(owner) {
		s.bytes -= it.size()
		f.item(owner, id)
	}
	if s.inboxes[owner] != nil {
		f.cert(owner)
	}
	delete(s.inboxes, owner)
	f.commit()
}

// Expire drops every item and refusal past its expiry at now, and reports
// how many items went.
func (s *Store) Expire(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	f := s.forget()
	for o, box := range s.inboxes {
		for id, it := range box.items {
			if !now.Before(it.Expiry) {
				s.bytes -= it.size()
				delete(box.items, id)
				f.item(o, id)
				n++
			}
		}
		if len(box.items) == 0 {
			delete(s.inboxes, o)
			f.cert(o)
		}
	}
	for id, exp := range s.gone {
		if !now.Before(exp) {
			delete(s.gone, id)
			f.goneID(id)
		}
	}
	f.commit()
	return n
}

// Key is the DHT key whose k closest nodes hold owner's inbox.
func Key(owner peer.ID) string { return "/p2pshare-inbox/" + string(owner) }
