package mailbox

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A store opened on a datastore keeps there, beside its maps, what it
// holds, so a holder that restarts still has it:
//
//	/item/<owner>/<item ID>  an item (encodeItem)
//	/cert/<owner>            the owner's member certificate
//	/gone/<item ID>          an item its owner deleted: its expiry, 8 bytes of Unix seconds
//
// with owners in their string form and item IDs in hex.
const (
	itemPrefix = "/item"
	certPrefix = "/cert"
	gonePrefix = "/gone"
)

func itemKey(owner peer.ID, id ItemID) ds.Key {
	return ds.RawKey(itemPrefix + "/" + owner.String() + "/" + id.String())
}
func certKey(owner peer.ID) ds.Key { return ds.RawKey(certPrefix + "/" + owner.String()) }
func goneKey(id ItemID) ds.Key     { return ds.RawKey(gonePrefix + "/" + id.String()) }

// encodeItem is how an item is kept: as one item of a request.
func encodeItem(it Item) []byte { return appendItems(nil, []Item{it}) }

// decodeItem decodes what encodeItem made. The item aliases b.
func decodeItem(b []byte) (Item, error) {
	d := &dec{b: b}
	items := d.items()
	if err := d.finish(); err != nil {
		return Item{}, err
	}
	if len(items) != 1 {
		return Item{}, fmt.Errorf("%w: %d items kept as one", ErrMalformed, len(items))
	}
	return items[0], nil
}

func parseItemID(s string) (ItemID, error) {
	var id ItemID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: item ID %q", ErrMalformed, s)
	}
	copy(id[:], b)
	return id, nil
}

// Check decides whether an item kept from an earlier run may be held
// again, as a new one would be: its signature, its sender's membership,
// and, if known, its owner's. It may return the item changed (its expiry
// cut).
type Check func(owner peer.ID, ownerCert []byte, it Item) (Item, error)

// Loaded is what OpenStore found in its datastore.
type Loaded struct {
	Items   int // held again
	Dropped int // expired, refused by the check or a quota, or undecodable
}

// OpenStore returns a store that keeps what it holds in d as well, and
// holds again what d kept: each item unexpired at now that passes check,
// charged to its sender and inbox as Put charges it; d's other entries
// under the store's keys are deleted. Writes to d that fail make Put fail;
// deletions that fail leave entries that the next OpenStore checks again.
func OpenStore(ctx context.Context, d ds.Batching, now time.Time, check Check) (*Store, Loaded, error) {
	s := NewStore()
	var l Loaded
	var drop []ds.Key
	certs := map[peer.ID][]byte{}
	err := each(ctx, d, certPrefix, func(k ds.Key, v []byte) {
		owner, err := peer.Decode(k.BaseNamespace())
		if err != nil || len(v) == 0 || len(v) > MaxCert {
			drop = append(drop, k)
			return
		}
		certs[owner] = v
	})
	if err == nil {
		err = each(ctx, d, gonePrefix, func(k ds.Key, v []byte) {
			id, err := parseItemID(k.BaseNamespace())
			if err != nil || len(v) != 8 || !now.Before(time.Unix(int64(binary.BigEndian.Uint64(v)), 0)) {
				drop = append(drop, k)
				return
			}
			s.gone[id] = time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
		})
	}
	if err == nil {
		err = each(ctx, d, itemPrefix, func(k ds.Key, v []byte) {
			if !s.reload(k, v, certs, now, check) {
				drop = append(drop, k)
				l.Dropped++
				return
			}
			l.Items++
		})
	}
	if err != nil {
		return nil, Loaded{}, err
	}
	for owner, cert := range certs {
		if box := s.inboxes[owner]; box != nil {
			box.cert = cert
		} else {
			drop = append(drop, certKey(owner))
		}
	}
	if err := deleteAll(ctx, d, drop); err != nil {
		return nil, Loaded{}, err
	}
	s.d = d
	return s, l, nil
}

// reload holds the item kept under k as v again if it decodes, is filed
// under its own ID, and passes check and Put; it reports whether it does.
func (s *Store) reload(k ds.Key, v []byte, certs map[peer.ID][]byte, now time.Time, check Check) bool {
	parts := k.Namespaces() // item, owner, ID
	if len(parts) != 3 {
		return false
	}
	owner, err := peer.Decode(parts[1])
	if err != nil {
		return false
	}
	id, err := parseItemID(parts[2])
	if err != nil {
		return false
	}
	it, err := decodeItem(v)
	if err != nil || IDOf(it.Sealed) != id {
		return false
	}
	if it, err = check(owner, certs[owner], it); err != nil {
		return false
	}
	ok, err := s.Put(owner, it, now)
	return ok && err == nil
}

// each calls f with every entry of d under prefix, its value a copy.
func each(ctx context.Context, d ds.Datastore, prefix string, f func(ds.Key, []byte)) error {
	res, err := d.Query(ctx, dsq.Query{Prefix: prefix})
	if err != nil {
		return fmt.Errorf("mailbox: reading the kept messages (%s): %w", prefix, err)
	}
	defer res.Close()
	for e := range res.Next() {
		if e.Error != nil {
			return fmt.Errorf("mailbox: reading the kept messages (%s): %w", prefix, e.Error)
		}
		f(ds.RawKey(e.Key), append([]byte(nil), e.Value...))
	}
	return nil
}

func deleteAll(ctx context.Context, d ds.Batching, keys []ds.Key) error {
	if len(keys) == 0 {
		return nil
	}
	b, err := d.Batch(ctx)
	if err != nil {
		return fmt.Errorf("mailbox: dropping kept messages: %w", err)
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			return fmt.Errorf("mailbox: dropping kept message %s: %w", k, err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("mailbox: dropping kept messages: %w", err)
	}
	return nil
}

// The writes below run under s.mu. With no datastore they do nothing.

// keep writes it, parked for owner, to the datastore.
func (s *Store) keep(owner peer.ID, id ItemID, it Item) error {
	if s.d == nil {
		return nil
	}
	if err := s.d.Put(context.Background(), itemKey(owner, id), encodeItem(it)); err != nil {
		return fmt.Errorf("mailbox: keeping a message for %s: %w", owner, err)
	}
	return nil
}

// keepCert writes owner's certificate to the datastore; a failure costs
// only the check of owner's items after a restart, which then relies on
// the certificates of their senders.
func (s *Store) keepCert(owner peer.ID, cert []byte) {
	if s.d != nil {
		_ = s.d.Put(context.Background(), certKey(owner), cert)
	}
}

// forget is a batch of the datastore's entries to delete and refusals to
// write, committed at once; a failed commit leaves entries that the next
// OpenStore checks again (expired ones go then; a deleted item comes back
// until it expires, and its owner deletes it again).
type forget struct {
	s    *Store
	del  []ds.Key
	gone map[ItemID]time.Time
}

func (s *Store) forget() *forget { return &forget{s: s} }

func (f *forget) item(owner peer.ID, id ItemID) {
	f.deleteKey(func() ds.Key { return itemKey(owner, id) })
}
func (f *forget) cert(owner peer.ID) { f.deleteKey(func() ds.Key { return certKey(owner) }) }
func (f *forget) goneID(id ItemID)   { f.deleteKey(func() ds.Key { return goneKey(id) }) }

// deleteKey adds the key k makes, if the store has a datastore.
func (f *forget) deleteKey(k func() ds.Key) {
	if f.s.d != nil {
		f.del = append(f.del, k())
	}
}

func (f *forget) refuse(id ItemID, until time.Time) {
	if f.s.d == nil {
		return
	}
	if f.gone == nil {
		f.gone = map[ItemID]time.Time{}
	}
	f.gone[id] = until
}

func (f *forget) commit() {
	d := f.s.d
	if d == nil || len(f.del)+len(f.gone) == 0 {
		return
	}
	ctx := context.Background()
	b, err := d.Batch(ctx)
	if err != nil {
		return
	}
	var errs []error
	for _, k := range f.del {
		errs = append(errs, b.Delete(ctx, k))
	}
	for id, until := range f.gone {
		errs = append(errs, b.Put(ctx, goneKey(id), binary.BigEndian.AppendUint64(nil, uint64(until.Unix()))))
	}
	if errors.Join(errs...) == nil {
		_ = b.Commit(ctx)
	}
}
