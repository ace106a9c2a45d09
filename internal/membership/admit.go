package membership

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

// ProtocolAdmit is the admission protocol: the only one an outsider may
// open, and only on the bootstrap.
const ProtocolAdmit protocol.ID = "/p2pshare/admit/1.0.0"

// refusal is an admission refused for a reason the newcomer is shown.
type refusal struct{ reason string }

func (r refusal) Error() string { return r.reason }

func refuse(format string, args ...any) error { return refusal{fmt.Sprintf(format, args...)} }

// Admit serves one admission stream: challenge the newcomer with a proof
// that this node holds the network's CA, read its join (token) or renewal
// (current certificate) request, and answer with a certificate or a
// refusal. Attach installs it as the ProtocolAdmit handler.
func (b *Bootstrap) Admit(s network.Stream) {
	p := s.Conn().RemotePeer()
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	b.mu.Lock()
	m, h := b.m, b.h
	b.mu.Unlock()
	if m == nil {
		_ = s.Reset() // not attached
		return
	}
	if !b.allowPeer(p) {
		reply := serverMsg{Kind: kindRefusal, Reason: fmt.Sprintf(
			"peer %s made more admission attempts than this bootstrap takes from one peer (%d at once, then one every %v); try again later",
			p, b.cfg.PeerBurst, every(b.cfg.PeerRate))}
		b.stats.count(false)
		_ = writeFrame(s, reply.encode())
		return
	}
	ip := remoteIP(s.Conn())
	// An address that failed too often is refused first, before it may
	// wait for a place: a flood from one address holds nothing for long.
	if wait, ok := b.mayTry(ip); !ok {
		reply := serverMsg{Kind: kindRefusal, Reason: fmt.Sprintf(
			"address %s made more failed admission attempts than this bootstrap takes from one address (%d, then one every %v); try again in %v",
			ip, b.cfg.FailBurst, every(b.cfg.FailRate), wait.Round(time.Second))}
		b.stats.count(false)
		_ = writeFrame(s, reply.encode())
		m.cutSoon(p, fmt.Errorf("membership: peer %s: %s", p, reply.Reason))
		return
	}
	// A newcomer that came while its address's places were all held (a
	// class rushing in from behind one NAT) waits here for one, on the
	// connection it has, before it is asked to come back on a new one.
	if m.overBudget(p) {
		b.stats.roomWaits.Add(1)
		if !m.awaitRoom(m.ctx, p, roomWait) {
			b.stats.busy.Add(1)
			reply := serverMsg{Kind: kindBusy, RetryMs: uint32(minRetryAfter.Milliseconds()), Reason: fmt.Sprintf(
				"the bootstrap holds as many newcomers from address %s as it takes at once (%d)", ip, m.cfg.OutsidersPerIP)}
			_ = writeFrame(s, reply.encode())
			m.cutSoon(p, fmt.Errorf("membership: peer %s: %s", p, reply.Reason))
			return
		}
	}
	// Admission starts here, before the wait in line, so that the member
	// exchange's deadline does not close the newcomer's connection while
	// it waits its turn.
	m.beginAdmission(p)
	var issued *MemberCert
	defer func() { m.endAdmission(p, issued) }()
	if !b.waitTurn(s) {
		return
	}

	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		_ = s.Reset()
		return
	}
	ch := b.challenge(nonce, h.ID(), p)
	if err := writeFrame(s, ch.encode()); err != nil {
		_ = s.Reset()
		return
	}
	var req clientMsg
	fr, err := readFrame(s, maxClientMsg, "admission request")
	if err == nil {
		req, err = decodeClientMsg(fr)
	}
	if err != nil {
		b.log.Info("bad admission request", "peer", p, "err", err)
		b.failed(ip)
		_ = s.Reset()
		return
	}
	var mc *MemberCert
	switch req.Kind {
	case kindJoin:
		mc, err = b.join(s, p, h.ID(), ip, nonce, &req)
	case kindRenew:
		mc, err = b.renew(p, &req)
	}
	b.stats.count(err == nil)
	reply := serverMsg{Kind: kindGrant}
	if err != nil {
		var r refusal
		if errors.As(err, &r) {
			b.failed(ip)
		} else {
			b.log.Error("admission failed", "peer", p, "err", err)
			if errors.Is(err, errIssue) {
				err = refuse("the bootstrap could not sign a certificate; nothing was recorded or used up, try again later")
			} else {
				err = refuse("the bootstrap failed to record the admission; try again later")
			}
		}
		reply = serverMsg{Kind: kindRefusal, Reason: err.Error()}
		b.log.Info("admission refused", "peer", p, "name", req.Name, "reason", reply.Reason)
	} else {
		reply.Cert, reply.CRL = mc.DER, b.CRL()
		if own := m.Own(); own != nil {
			reply.Self = own.DER
		}
		b.log.Info("admitted", "peer", p, "name", mc.Name, "role", mc.Role, "renewal", req.Kind == kindRenew)
	}
	_ = s.SetDeadline(time.Now().Add(streamTimeout))
	if err := writeFrame(s, reply.encode()); err != nil {
		_ = s.Reset()
		return
	}
	issued = mc
	// Wait for the newcomer to read the reply and close, so that closing
	// its connection (if refused) cannot cut the reply off.
	_ = s.CloseWrite()
	_, _ = io.Copy(io.Discard, io.LimitReader(s, 1))
}

// join decides a join request and, if it is granted, signs the certificate
// and then records the token use and the member durably: a use is recorded
// only for a certificate signed, and a certificate leaves only once its use
// is recorded.
func (b *Bootstrap) join(s network.Stream, p, self peer.ID, ip string, nonce [32]byte, req *clientMsg) (*MemberCert, error) {
	if _, err := peerKey(p); err != nil {
		return nil, refuse("peer %s has no Ed25519 key; p2pshare members need one", p)
	}
	tokID := hex.EncodeToString(req.TokenID[:])
	tok, ok := b.reg.Token(tokID)
	if !ok {
		return nil, refuse("token %s is not known to this bootstrap", tokID)
	}
	want := joinProof(tok.Secret, nonce, self, p, req)
	if !hmac.Equal(want[:], req.Proof[:]) {
		return nil, refuse("the proof for token %s does not verify: wrong secret, or not made for this session", tokID)
	}
	if err := checkNewName(req.Name); err != nil {
		return nil, refuse("%s", strings.TrimPrefix(err.Error(), "membership: "))
	}
	j := joinRecord{Peer: p, Name: req.Name, Role: req.Role, Token: tokID, Addr: ip}
	if err := b.reg.precheck(j, b.cfg.Now()); err != nil {
		return nil, err
	}
	if b.cfg.Approve != nil && (b.cfg.ApproveWhen == nil || b.cfg.ApproveWhen()) {
		if ok, why := b.approve(s, Request{Peer: p, Name: req.Name, Role: req.Role, TokenID: tokID, Addr: ip}); !ok {
			return nil, refuse("not approved: %s", why)
		}
	}
	now := b.cfg.Now()
	mc, err := b.issue(IssueRequest{Peer: p, Name: req.Name, Role: req.Role, Now: now, TTL: b.cfg.CertTTL})
	if err != nil {
		return nil, err
	}
	// Signed first, recorded second, sent last: a certificate the CA
	// cannot sign spends no use, and one that is signed leaves only once
	// its use is durable. A join that loses a race for the last use has
	// cost a signature, which is cheap, and nothing else.
	if err := b.w.admit(j, mc.Serial, now.Add(b.cfg.CertTTL), now); err != nil {
		return nil, err // a refusal, or a disk failure that Admit reports vaguely
	}
	return mc, nil
}

// waitingEvery is how often a newcomer waiting for approval is told again
// that it waits: a write that fails means it hung up, and its request is
// withdrawn.
const waitingEvery = 5 * time.Second

// approve asks cfg.Approve about r, telling the newcomer on s that it
// waits, until the callback answers, ApproveTimeout passes, the newcomer
// hangs up or the bootstrap closes. It returns the decision and, for a
// refusal, its reason.
func (b *Bootstrap) approve(s network.Stream, r Request) (bool, string) {
	limit := b.cfg.ApproveTimeout
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	wait := serverMsg{Kind: kindWaiting, Reason: fmt.Sprintf("waiting for the teacher to approve %q (up to %v)", r.Name, limit)}
	_ = s.SetDeadline(time.Now().Add(limit + streamTimeout))
	if err := writeFrame(s, wait.encode()); err != nil {
		return false, "the newcomer hung up"
	}
	var gone atomic.Bool
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(waitingEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-b.done:
				cancel()
				return
			case <-t.C:
				if writeFrame(s, wait.encode()) != nil {
					gone.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	ok, why := b.cfg.Approve(ctx, r)
	close(stop)
	<-stopped
	if ok {
		return !gone.Load(), "the newcomer hung up"
	}
	switch why = strings.TrimSpace(why); {
	case why != "":
	case gone.Load():
		why = "the newcomer hung up"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = fmt.Sprintf("the teacher did not decide within %v", limit)
	case ctx.Err() != nil:
		why = "the bootstrap closed"
	default:
		why = "no reason given"
	}
	return false, why
}

// errIssue marks a certificate the CA failed to sign: nothing was
// recorded, so the newcomer may simply try again.
var errIssue = errors.New("the CA could not sign the certificate")

// issue signs a certificate with a fresh serial.
func (b *Bootstrap) issue(r IssueRequest) (*MemberCert, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("%w: serial: %w", errIssue, err)
	}
	r.Serial = serial
	mc, err := b.CA().Issue(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errIssue, err)
	}
	return mc, nil
}

// renew issues a fresh certificate to a member that proves itself with its
// current, unrevoked one: unexpired, or expired less than RenewGrace ago
// (a laptop closed for the summer), under the name it had.
func (b *Bootstrap) renew(p peer.ID, req *clientMsg) (*MemberCert, error) {
	b.mu.Lock()
	m := b.m
	b.mu.Unlock()
	now := b.cfg.Now()
	if err := checkRenewal(m.verify, req.Cert, p, now); err != nil {
		return nil, refuse("renewal refused: %v", err)
	}
	rec, ok := b.reg.Member(p)
	if !ok {
		return nil, refuse("peer %s is not a member of this network (revoked, or never admitted)", p)
	}
	mc, err := b.issue(IssueRequest{Peer: p, Name: rec.Name, Role: rec.Role, Now: now, TTL: b.cfg.CertTTL})
	if err != nil {
		return nil, err
	}
	if _, err := b.w.renew(p, mc.Serial, now.Add(b.cfg.CertTTL)); err != nil {
		return nil, err
	}
	return mc, nil
}

// checkRenewal checks the certificate a member renews with at now: valid,
// or expired less than RenewGrace ago and valid when it expired.
func checkRenewal(v *Verifier, der []byte, p peer.ID, now time.Time) error {
	_, err := v.Verify(der, p, now)
	if !errors.Is(err, ErrExpired) {
		return err
	}
	mc, perr := ParseMemberCert(der)
	if perr != nil || now.Before(mc.NotAfter) {
		return err // not yet valid: not an expiry
	}
	if lapsed := now.Sub(mc.NotAfter); lapsed > RenewGrace {
		return fmt.Errorf("the certificate expired at %s, %s ago, more than the %s grace for renewal: join again with an invite: %w",
			stamp(mc.NotAfter), lapsed.Round(time.Hour), RenewGrace, ErrExpired)
	}
	_, err = v.Verify(der, p, mc.NotAfter)
	return err
}

// waitTurn holds the newcomer in the admission line until its turn, or
// tells it when to come back if the line is full. It reports whether the
// admission may go on.
func (b *Bootstrap) waitTurn(s network.Stream) bool {
	b.mu.Lock()
	turn := b.queue.take(b.cfg.Now())
	b.mu.Unlock()
	if turn.Busy {
		b.stats.busy.Add(1)
		reply := serverMsg{Kind: kindBusy, RetryMs: uint32(min(turn.RetryAfter.Milliseconds(), maxRetryMs)),
			Reason: fmt.Sprintf("the bootstrap is admitting a class at its limit of %v a second and its line is full", b.cfg.TotalRate)}
		_ = writeFrame(s, reply.encode())
		return false
	}
	if turn.Wait <= 0 {
		return true
	}
	_ = s.SetDeadline(time.Now().Add(turn.Wait + streamTimeout))
	t := time.NewTimer(turn.Wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.done:
		_ = s.Reset()
		return false
	}
}

// every is the interval between two events at rate r.
func every(r rate.Limit) time.Duration {
	if r <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(r)).Round(time.Millisecond)
}

// allowPeer applies the per-peer admission rate limit.
func (b *Bootstrap) allowPeer(p peer.ID) bool {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.limiters[p]
	if !ok {
		if len(b.limiters) >= maxLimiters {
			clear(b.limiters) // a flood of fresh IDs; the total limit still holds
		}
		l = rate.NewLimiter(b.cfg.PeerRate, b.cfg.PeerBurst)
		b.limiters[p] = l
	}
	return l.AllowN(now, 1)
}

// mayTry applies the limit of failed attempts per source address.
func (b *Bootstrap) mayTry(addr string) (time.Duration, bool) {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures.allow(addr, now)
}

// failed counts a failed attempt from addr.
func (b *Bootstrap) failed(addr string) {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures.fail(addr, now)
}
