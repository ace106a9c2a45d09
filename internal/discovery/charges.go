package discovery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-base32"

	"github.com/p2pshare/p2pshare/internal/replication"
)

// Options.Charges keeps each charge of a peer's quota (putQuota) as
//
//	/<peer ID>/<base32 of the record key>  8 bytes of size, 8 of expiry in Unix seconds
//
// written when the charge is made. Charges that expired are deleted when
// the node next starts.

func chargeKey(p peer.ID, key string) ds.Key {
	return ds.RawKey("/" + p.String() + "/" + base32.RawStdEncoding.EncodeToString([]byte(key)))
}

func encodeCharge(size int, expiry time.Time) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(size))
	return binary.BigEndian.AppendUint64(b, uint64(expiry.Unix()))
}

// errCharge is decodeCharge's error for bytes it cannot read.
var errCharge = errors.New("discovery: malformed quota charge")

// decodeCharge reads a charge kept under k as v.
func decodeCharge(k string, v []byte) (p peer.ID, key string, size int, expiry time.Time, err error) {
	ps, ks, ok := strings.Cut(strings.TrimPrefix(k, "/"), "/")
	if !ok || len(v) != 16 {
		return "", "", 0, time.Time{}, fmt.Errorf("%w: %q, %d bytes", errCharge, k, len(v))
	}
	if p, err = peer.Decode(ps); err != nil {
		return "", "", 0, time.Time{}, fmt.Errorf("%w: %q: %v", errCharge, k, err)
	}
	kb, err := base32.RawStdEncoding.DecodeString(ks)
	if err != nil || len(kb) == 0 {
		return "", "", 0, time.Time{}, fmt.Errorf("%w: key of %q", errCharge, k)
	}
	n := binary.BigEndian.Uint64(v)
	if n > replication.MaxEnvelopeSize {
		return "", "", 0, time.Time{}, fmt.Errorf("%w: %d bytes charged, more than a record holds", errCharge, n)
	}
	return p, string(kb), int(n), time.Unix(int64(binary.BigEndian.Uint64(v[8:])), 0), nil
}

// keep writes the charge of p for key, as Admit made it.
func (q *putQuota) keep(p peer.ID, key string, size int, expiry time.Time) {
	if q.charges == nil {
		return
	}
	if err := q.charges.Put(context.Background(), chargeKey(p, key), encodeCharge(size, expiry)); err != nil {
		// The charge holds while the node runs; a restart forgets it.
		q.log.Debug("keeping a record charge", "peer", p, "err", err)
	}
}

// reloadCharges charges again what the peers' stores were charged before
// the node last stopped, and deletes the charges that expired or do not
// decode.
func (q *putQuota) reloadCharges(now time.Time) error {
	ctx := context.Background()
	res, err := q.charges.Query(ctx, dsq.Query{})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStoreRead, err)
	}
	var gone []ds.Key
	q.mu.Lock()
	for e := range res.Next() {
		if e.Error != nil {
			q.mu.Unlock()
			res.Close()
			return fmt.Errorf("%w: %w", ErrStoreRead, e.Error)
		}
		p, key, size, expiry, err := decodeCharge(e.Key, e.Value)
		if err != nil || replication.Expired(now, expiry) {
			gone = append(gone, ds.RawKey(e.Key))
			continue
		}
		q.q.Restore(now, p, key, size, expiry)
	}
	q.mu.Unlock()
	res.Close()
	for _, k := range gone {
		if err := q.charges.Delete(ctx, k); err != nil {
			return fmt.Errorf("%w: dropping charge %s: %w", ErrStoreRead, k, err)
		}
	}
	return nil
}
