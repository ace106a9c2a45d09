package membership

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// errRetry from checkJoin means the join repeats one that already
// succeeded (same peer, name and token, e.g. the reply was lost): the
// member gets a fresh certificate and the token no further use.
var errRetry = errors.New("repeat of a completed join")

// joinRecord is the part of a join request the registry decides on.
type joinRecord struct {
	Peer  peer.ID
	Name  string
	Role  Role
	Token string // hex token ID
	Addr  string // source address (remoteIP); "" if unknown
}

// checkJoin decides whether j may join, against the registry state at now.
// It does no I/O; its errors are refusals whose texts the newcomer sees, so
// they hold no secret. The caller holds r.mu.
func (r *Registry) checkJoin(j joinRecord, now time.Time) error {
	t, ok := r.st.Tokens[j.Token]
	if !ok {
		return refuse("token %s is not known to this bootstrap", j.Token)
	}
	if !t.Cancelled.IsZero() {
		return refuse("the invite with token %s was cancelled by the teacher at %s; ask for a new one", j.Token, stamp(t.Cancelled))
	}
	if rv, ok := r.revokedPeer(j.Peer); ok {
		return refuse("peer %s was revoked (as %q) at %s and cannot rejoin unless the teacher lifts that", j.Peer, rv.Name, stamp(rv.At))
	}
	key := nameKey(j.Name)
	if m, ok := r.st.Members[j.Peer.String()]; ok {
		if nameKey(m.Name) == key && m.Token == j.Token && m.Role == j.Role {
			return errRetry
		}
		if !lapsed(m, now) {
			return refuse("peer %s is already a member, as %q", j.Peer, m.Name)
		}
		if nameKey(m.Name) != key {
			return refuse("peer %s was a member as %q (its certificate lapsed at %s): it may join again as %q only", j.Peer, m.Name, stamp(m.NotAfter), m.Name)
		}
	} else if q, ok := r.names[key]; ok {
		if held := r.st.Members[q.String()].Name; held != j.Name {
			return refuse("name %q is already held by peer %s (as %q, which reads the same)", j.Name, q, held)
		}
		return refuse("name %q is already held by peer %s", j.Name, q)
	}
	if rv, ok := r.reservedName(key); ok {
		return refuse("name %q was revoked (as %q, peer %s) at %s and stays reserved unless the teacher lifts that", j.Name, rv.Name, rv.Peer, stamp(rv.At))
	}
	if !now.Before(t.Expires) {
		return refuse("token %s expired at %s", j.Token, stamp(t.Expires))
	}
	if t.UsesLeft <= 0 {
		return refuse("token %s has no uses left (all %d used)", j.Token, t.Uses)
	}
	if j.Role != t.Role {
		return refuse("token %s admits a %s, not a %s", j.Token, t.Role, j.Role)
	}
	return r.policy.check(nameFacts{Name: j.Name, Token: j.Token, TokenName: t.Name,
		NameBound: r.nameBound(key, now), Addr: j.Addr, FromAddr: r.perAddr[j.Addr]})
}

// nameBound reports whether a per-student invite that may still admit is
// bound to the name with key k; the caller holds r.mu.
func (r *Registry) nameBound(k string, now time.Time) bool {
	for _, id := range r.bound[k] {
		if t := r.st.Tokens[id]; t != nil && t.Cancelled.IsZero() && t.UsesLeft > 0 && now.Before(t.Expires) {
			return true
		}
	}
	return false
}

// lapsed reports whether m's certificate expired more than RenewGrace
// before now: it can no longer renew, and joins again with an invite.
func lapsed(m *MemberRecord, now time.Time) bool { return now.Sub(m.NotAfter) > RenewGrace }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// precheck is checkJoin under the lock, for a cheap refusal before the
// approval callback runs; Admit checks again.
func (r *Registry) precheck(j joinRecord, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkJoin(j, now); err != nil && !errors.Is(err, errRetry) {
		return err
	}
	return nil
}

// admit checks j again and, if it may join, records the token use and the
// member (certificate serial and expiry) in one durable write. Only after it
// returns nil may the certificate be sent. Concurrent joins on a one-use
// token: the first to take r.mu wins, the others see no uses left.
func (r *Registry) admit(j joinRecord, serial *big.Int, notAfter, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.checkJoin(j, now)
	key := j.Peer.String()
	if errors.Is(err, errRetry) {
		m := r.st.Members[key]
		old := *m
		m.Serials = append(append([]string(nil), m.Serials...), serialHex(serial))
		m.NotAfter = notAfter
		if err := r.record(m, ""); err != nil {
			*m = old
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	t := r.st.Tokens[j.Token]
	t.UsesLeft--
	m := &MemberRecord{Peer: j.Peer, Name: j.Name, Role: j.Role, Serials: []string{serialHex(serial)},
		NotAfter: notAfter, Token: j.Token, Joined: now, From: j.Addr}
	prev, rejoin := r.st.Members[key] // lapsed, rejoining under its name
	r.st.Members[key] = m
	r.names[nameKey(j.Name)] = j.Peer
	shared := t.Name == "" && j.Addr != ""
	if shared {
		r.perAddr[j.Addr]++
	}
	if err := r.record(m, j.Token); err != nil {
		t.UsesLeft++
		if rejoin {
			r.st.Members[key] = prev
		} else {
			delete(r.st.Members, key)
			delete(r.names, nameKey(j.Name))
		}
		if shared {
			r.perAddr[j.Addr]--
		}
		return err
	}
	return nil
}

// enroll records a member admitted without a token: the bootstrap node
// itself. Enrolling an existing member under its own name adds a serial.
func (r *Registry) enroll(p peer.ID, name string, role Role, serial *big.Int, notAfter, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.names[nameKey(name)]; ok && q != p {
		return fmt.Errorf("membership: name %q is already held by peer %s", name, q)
	}
	key := p.String()
	prev, had := r.st.Members[key]
	m := &MemberRecord{Peer: p, Name: name, Role: role, NotAfter: notAfter, Joined: now}
	if had {
		if nameKey(prev.Name) != nameKey(name) {
			return fmt.Errorf("membership: peer %s is already a member, as %q", p, prev.Name)
		}
		c := *prev
		m = &c
		m.NotAfter = notAfter
		m.Serials = append([]string(nil), prev.Serials...)
	}
	m.Serials = append(m.Serials, serialHex(serial))
	r.st.Members[key] = m
	r.names[nameKey(name)] = p
	if err := r.record(m, ""); err != nil {
		if had {
			r.st.Members[key] = prev
		} else {
			delete(r.st.Members, key)
			delete(r.names, nameKey(name))
		}
		return err
	}
	return nil
}

// renew records a renewed certificate for an existing member.
func (r *Registry) renew(p peer.ID, serial *big.Int, notAfter time.Time) (MemberRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.st.Members[p.String()]
	if !ok {
		return MemberRecord{}, refuse("peer %s is not a member of this network", p)
	}
	old := *m
	m.Serials = append(append([]string(nil), m.Serials...), serialHex(serial))
	m.NotAfter = notAfter
	if err := r.record(m, ""); err != nil {
		*m = old
		return MemberRecord{}, err
	}
	return *m, nil
}

// revoke removes the member named who (a peer ID or a name), lists all
// its serials as revoked and advances the CRL number, all in one durable
// write. Its peer ID and its name stay reserved to the revocation until it
// is lifted. With cancelToken, the token that admitted it is cancelled too.
func (r *Registry) revoke(who string, cancelToken bool, now time.Time) (RevokedRecord, int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.names[nameKey(who)]
	if !ok {
		if id, err := peer.Decode(who); err == nil {
			p = id
		}
	}
	m, ok := r.st.Members[p.String()]
	if p == "" || !ok {
		return RevokedRecord{}, 0, fmt.Errorf("membership: no member named or with peer ID %q", who)
	}
	var tok *TokenRecord
	if cancelToken {
		if tok = r.st.Tokens[m.Token]; tok == nil {
			return RevokedRecord{}, 0, fmt.Errorf("membership: member %q (peer %s) was admitted by no token this bootstrap keeps (%q), so none can be cancelled", m.Name, p, m.Token)
		}
	}
	rv := RevokedRecord{Peer: m.Peer, Name: m.Name, Serials: append([]string(nil), m.Serials...), At: now, Token: m.Token}
	cancelled := time.Time{}
	if tok != nil {
		cancelled = tok.Cancelled
		if cancelled.IsZero() {
			tok.Cancelled = now
		}
	}
	delete(r.st.Members, p.String())
	r.st.Revoked = append(r.st.Revoked, rv)
	r.st.CRLNumber++
	if err := r.save(); err != nil {
		r.st.CRLNumber--
		r.st.Revoked = r.st.Revoked[:len(r.st.Revoked)-1]
		r.st.Members[p.String()] = m
		if tok != nil {
			tok.Cancelled = cancelled
		}
		return RevokedRecord{}, 0, err
	}
	r.reindex()
	return rv, r.st.CRLNumber, nil
}
