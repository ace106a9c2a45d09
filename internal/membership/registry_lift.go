package membership

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// revokedPeer returns p's revocation that is not lifted, if any; the
// caller holds r.mu.
func (r *Registry) revokedPeer(p peer.ID) (RevokedRecord, bool) {
	for i := len(r.st.Revoked) - 1; i >= 0; i-- {
		if rv := r.st.Revoked[i]; rv.Peer == p && rv.Lifted.IsZero() {
			return rv, true
		}
	}
	return RevokedRecord{}, false
}

// reservedName returns the revocation, not lifted, that reserves the name
// with key k, if any; the caller holds r.mu.
func (r *Registry) reservedName(k string) (RevokedRecord, bool) {
	i, ok := r.reserved[k]
	if !ok {
		return RevokedRecord{}, false
	}
	return r.st.Revoked[i], true
}

// lift lifts every revocation, not lifted yet, of the peer or the name who
// (a peer ID, or a name compared by nameKey), so that the peer and the
// name may be admitted again. The revoked certificates stay revoked: the
// CRL number advances because the CRL changes (CreateCRL marks them
// superseded, so members stop refusing the peer itself). One durable write.
func (r *Registry) lift(who string, now time.Time) ([]RevokedRecord, int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := nameKey(who)
	var idx []int
	for i, rv := range r.st.Revoked {
		if rv.Lifted.IsZero() && (rv.Peer.String() == who || nameKey(rv.Name) == key) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, 0, fmt.Errorf("membership: no revocation to lift for %q (revoked now: %s)", who, r.revokedNamesLocked())
	}
	var out []RevokedRecord
	for _, i := range idx {
		r.st.Revoked[i].Lifted = now
		out = append(out, r.st.Revoked[i])
	}
	r.st.CRLNumber++
	if err := r.save(); err != nil {
		r.st.CRLNumber--
		for _, i := range idx {
			r.st.Revoked[i].Lifted = time.Time{}
		}
		return nil, 0, err
	}
	r.reindex()
	return out, r.st.CRLNumber, nil
}

// revokedNamesLocked lists the revocations not lifted, for an error; the
// caller holds r.mu.
func (r *Registry) revokedNamesLocked() string {
	var names []string
	for _, rv := range r.st.Revoked {
		if rv.Lifted.IsZero() {
			names = append(names, fmt.Sprintf("%q (%s)", rv.Name, rv.Peer))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// cancelToken cancels the token with hex ID id: it admits nobody from now
// on. The members it admitted stay members. One durable write.
func (r *Registry) cancelToken(id string, now time.Time) (TokenRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.st.Tokens[id]
	if !ok {
		return TokenRecord{}, fmt.Errorf("membership: no invite with token %q", id)
	}
	if !t.Cancelled.IsZero() {
		return TokenRecord{}, fmt.Errorf("membership: the invite with token %s was already cancelled at %s", id, stamp(t.Cancelled))
	}
	t.Cancelled = now
	if err := r.save(); err != nil {
		t.Cancelled = time.Time{}
		return TokenRecord{}, err
	}
	return *t, nil
}

// Tokens lists every token the bootstrap keeps, oldest first, without
// their secrets.
func (r *Registry) Tokens() []TokenRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TokenRecord, 0, len(r.st.Tokens))
	for _, t := range r.st.Tokens {
		c := *t
		c.Secret = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
