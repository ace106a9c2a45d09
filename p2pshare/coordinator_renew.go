package p2pshare

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	mrand "math/rand/v2"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/p2pshare/p2pshare/internal/coord"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// Coordinator certificate renewal. A coordinator certificate lasts a week
// (membership.DefaultCoordinatorTTL); the member certificates a coordinator
// signs end with it. Two thirds into its life, give or take a twelfth, a
// coordinator asks the group's other coordinators, on protocolRenewCoord,
// for a new one: the one that holds the root (the bootstrap) commits the
// renewal to the group's log as an appointment naming the new serial, signs
// it and hands it back. The coordinator keeps it and signs under it from
// then on. Its members renew as members do (renewIfDue), each getting a
// certificate under the new one before the old one ends. While the root
// key is offline (rootkey.go) no coordinator is renewed: each says so in
// its log, with the date its certificate ends, and tries again.

// protocolRenewCoord is a coordinator's request for a new coordinator
// certificate; the messages are protocolAppoint's: "renew", then the
// certificate or a refusal.
const protocolRenewCoord protocol.ID = "/p2pshare/coord/renew/1.0.0"

// coordRenewAt is when a coordinator certificate valid from notBefore
// (back-dated by membership.ClockSkew) to notAfter is renewed: two thirds
// into its life, moved by up to a twelfth of it either way as u (in
// [0,1)) says, so that coordinators appointed together do not all ask at
// once.
func coordRenewAt(notBefore, notAfter time.Time, u float64) time.Time {
	issued := notBefore.Add(membership.ClockSkew)
	life := notAfter.Sub(issued)
	if life <= 0 {
		return issued
	}
	return issued.Add(life*2/3 + time.Duration((u-0.5)*float64(life)/6))
}

// coordRenewEarly reports whether a coordinator certificate valid from
// notBefore (back-dated) to notAfter is old enough at now to be renewed
// ahead of time, when the root is seen signing: a third into its life.
// The root, offline most of the week, may be back for a moment only.
func coordRenewEarly(notBefore, notAfter, now time.Time) bool {
	issued := notBefore.Add(membership.ClockSkew)
	return !now.Before(issued.Add(notAfter.Sub(issued) / 3))
}

// coordRetryAfter is how long a coordinator waits to try a renewal again
// that failed, with left until its certificate ends: an eighth of that,
// between a second and an hour; an hour once it has ended.
func coordRetryAfter(left time.Duration) time.Duration {
	if left <= 0 {
		return time.Hour
	}
	return min(max(left/8, time.Second), time.Hour)
}

// memberRenewDue reports whether a member certificate is due for renewal
// at now: the root's once renewBefore is left; a coordinator's, which ends
// with the coordinator's and so lives a week or less, once a third of its
// life is left, by when the coordinator has renewed its own, so that the
// new one ends later. (Renewed at renewBefore, it would be renewed at
// every check, each time to the same end.)
func memberRenewDue(mc *membership.MemberCert, now time.Time) bool {
	left := mc.NotAfter.Sub(now)
	if mc.IssuedBy() == nil {
		return left <= renewBefore
	}
	return left <= min(renewBefore, certLife(mc)/3)
}

// certLife is how long a member certificate lives: from its issue
// (NotBefore is back-dated by membership.ClockSkew) to its end.
func certLife(mc *membership.MemberCert) time.Duration {
	return mc.NotAfter.Sub(mc.NotBefore.Add(membership.ClockSkew))
}

// memberRenewCheck is how often a member whose certificate lives life
// checks whether it is due: twice a day, or twelve times in its life if
// that is shorter (a coordinator's member, when the coordinator
// certificates are short), but not more than once a second.
func memberRenewCheck(life time.Duration) time.Duration {
	return max(min(12*time.Hour, life/12), time.Second)
}

// startCoordRenewal starts the loop that renews this node's coordinator
// certificate, once, if it admits under one; on a bootstrap started with
// its offline root key brought back, it renews the bootstrap's own.
func (s *Swarm) startCoordRenewal() {
	b := s.net.boot
	if b != nil && b.CA().IsRoot() && s.net.group != nil && offlineRoot(filepath.Dir(s.net.root.netDir)) {
		go s.refreshOwnCoordCert()
		return
	}
	if b == nil || b.CA().IsRoot() || s.net.group == nil || !s.net.root.renewing.CompareAndSwap(false, true) {
		return
	}
	go s.coordRenewLoop()
}

// coordRenewLoop renews this coordinator's certificate when it is due,
// and again after a failure, until the node closes.
func (s *Swarm) coordRenewLoop() {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.h.ID()))
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), h.Sum64()))
	failed := false
	for {
		cc, err := membership.ParseCoordinatorCert(s.net.boot.CA().Coordinator())
		if err != nil {
			return // the root again: nothing to renew
		}
		now := time.Now()
		at := coordRenewAt(cc.NotBefore, cc.NotAfter, rnd.Float64())
		if failed {
			at = now.Add(coordRetryAfter(cc.NotAfter.Sub(now)))
		}
		t := time.NewTimer(at.Sub(now))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.net.root.kick:
			t.Stop()
			if !coordRenewEarly(cc.NotBefore, cc.NotAfter, time.Now()) {
				continue
			}
		}
		err = s.renewCoordinator(s.ctx)
		failed = err != nil
		if err != nil && s.ctx.Err() == nil {
			s.log.Warn("coordinator certificate not renewed", "ends", stamp(cc.NotAfter), "err", err)
		}
	}
}

// renewCoordinator asks the group's other coordinators in turn for a new
// coordinator certificate, until the one holding the root gives it, and
// signs under it from then on. It fails, saying when the current
// certificate ends, if none does: the root key offline, or the bootstrap
// out of reach. Nothing changes then: the current certificate serves
// until it ends.
func (s *Swarm) renewCoordinator(ctx context.Context) error {
	n := s.net
	b := n.boot
	if b == nil || n.group == nil {
		return errors.New("p2pshare: this node is no coordinator")
	}
	cur, err := membership.ParseCoordinatorCert(b.CA().Coordinator())
	if err != nil {
		return errors.New("p2pshare: this node holds the network's root: it has no coordinator certificate to renew")
	}
	fail := func(why error) error {
		return fmt.Errorf("p2pshare: the coordinator certificate of %q ends at %s and was not renewed: %w; only the network's root renews it: bring the root key back to the bootstrap (seeder -root-key FILE, Config.RootKeyFile) before then, or this coordinator stops admitting",
			cur.Name, stamp(cur.NotAfter), why)
	}
	if note, off := membership.RootKeyOffline(n.root.netDir); off {
		return fail(errors.New(note))
	}
	var errs []error
	for _, c := range n.group.Coordinators() {
		if c.Peer == s.h.ID() {
			continue
		}
		der, err := s.askRenewal(ctx, c.Peer)
		if err == nil {
			err = s.installCoordCert(der, cur)
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s (%s): %w", c.Name, c.Peer, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("the group's log names no other coordinator to ask"))
	}
	return fail(errors.Join(errs...))
}

// installCoordCert checks a renewed coordinator certificate, keeps it, and
// makes it the one this node signs under.
func (s *Swarm) installCoordCert(der []byte, cur *membership.CoordinatorCert) error {
	now := time.Now()
	ca, err := membership.NewCoordinatorCA(s.net.caDER, der, s.key, now)
	if err != nil {
		return err
	}
	next, err := membership.ParseCoordinatorCert(der)
	if err != nil {
		return err
	}
	if !next.NotAfter.After(cur.NotAfter) {
		return fmt.Errorf("the renewed certificate ends at %s, no later than the current one", stamp(next.NotAfter))
	}
	if err := membership.SaveCoordinatorCert(filepath.Join(s.net.root.netDir, coordCertName), der); err != nil {
		return err
	}
	if err := s.net.boot.SetCA(ca); err != nil {
		return err
	}
	s.log.Info("coordinator certificate renewed", "serial", fmt.Sprintf("%x", next.Serial), "ends", stamp(next.NotAfter))
	return nil
}

// askRenewal asks coordinator p for a new coordinator certificate.
func (s *Swarm) askRenewal(ctx context.Context, p peer.ID) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	st, err := s.h.NewStream(ctx, p, protocolRenewCoord)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(45 * time.Second))
	if err := writeAppoint(st, appointMsg{Step: "renew"}); err != nil {
		_ = st.Reset()
		return nil, err
	}
	m, err := readAppoint(st)
	switch {
	case err != nil:
		return nil, err
	case m.Refusal != "":
		return nil, errors.New(m.Refusal)
	case len(m.Cert) == 0:
		return nil, errors.New("it answered with no certificate and no refusal")
	}
	return m.Cert, nil
}

// serveRenewCoord is a coordinator's side of protocolRenewCoord: the one
// holding the root renews a coordinator of the group's log; any other
// says it cannot.
func (n *memberNet) serveRenewCoord(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(time.Minute))
	p := s.Conn().RemotePeer()
	if _, ok := n.m.Member(p); !ok {
		_ = s.Reset()
		return
	}
	if m, err := readAppoint(s); err != nil || m.Step != "renew" {
		_ = s.Reset()
		return
	}
	var reply appointMsg
	if !n.boot.CA().IsRoot() {
		reply.Refusal = n.rootAbsent()
	} else if name := n.logged(p); name == "" {
		reply.Refusal = fmt.Sprintf("peer %s is not a coordinator in the group's log (dismissed, or never appointed)", p)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		der, err := n.signCoordinator(ctx, p, name, time.Now())
		cancel()
		if err != nil {
			reply.Refusal = err.Error()
		}
		reply.Cert = der
	}
	_ = writeAppoint(s, reply)
}

// logged is p's name as a coordinator in the group's log, or "": waiting
// a little for a log that a node started a moment ago has not applied yet.
func (n *memberNet) logged(p peer.ID) string {
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, c := range n.group.Coordinators() {
			if c.Peer == p {
				return c.Name
			}
		}
		if time.Now().After(end) {
			return ""
		}
	}
}

// signCoordinator appoints p, named name, in the group's log with the
// serial and end of a new coordinator certificate, and signs that with the
// root: a new coordinator's, or a renewal. Only a node holding the root
// can.
func (n *memberNet) signCoordinator(ctx context.Context, p peer.ID, name string, now time.Time) ([]byte, error) {
	n.root.mu.Lock()
	defer n.root.mu.Unlock()
	return n.signCoordinatorLocked(ctx, p, name, now)
}

func (n *memberNet) signCoordinatorLocked(ctx context.Context, p peer.ID, name string, now time.Time) ([]byte, error) {
	ca := n.boot.CA()
	if !ca.IsRoot() {
		return nil, errors.New(n.rootAbsent())
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now = now.Truncate(time.Second) // as the certificate keeps it
	ttl := n.root.coordTTL()
	c := coord.Coordinator{Peer: p, Name: name, Serial: fmt.Sprintf("%x", serial), NotAfter: now.Add(ttl).UTC()}
	if err := n.group.AppointCert(ctx, c); err != nil {
		return nil, fmt.Errorf("the group could not appoint it: %w", err)
	}
	cc, err := ca.IssueCoordinator(membership.IssueRequest{Peer: p, Name: name, Now: now, TTL: ttl, Serial: serial})
	if err != nil {
		return nil, fmt.Errorf("the root could not sign its coordinator certificate: %w", err)
	}
	return cc.DER, nil
}

// newSerial is a random, non-zero 128-bit certificate serial.
func newSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if s := new(big.Int).SetBytes(b[:]); s.Sign() > 0 {
			return s, nil
		}
	}
}

// stamp is t as the logs and errors give dates.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
