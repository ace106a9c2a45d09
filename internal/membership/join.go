package membership

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ihost "github.com/p2pshare/p2pshare/internal/host"
)

const memberCertFile = "member.crt"

// Credentials are what a member keeps: the network's root certificate, its
// own member certificate and the newest CRL (may be empty).
type Credentials struct {
	CA   []byte
	Cert []byte
	CRL  []byte
	// Bootstrap is the bootstrap's own member certificate, from an
	// admission's grant (checked against CA for the bootstrap's peer ID);
	// Membership.Introduce takes it. It is not kept on disk.
	Bootstrap []byte
}

// JoinRequest is what a newcomer asks for.
type JoinRequest struct {
	Name string
	Role Role // "" means student; it must be the role the invite's token admits
	// Waiting, if set, is told once, with the bootstrap's words, that the
	// join waits for the teacher's approval.
	Waiting func(reason string)
	// Now is the newcomer's clock, which the certificate it gets is
	// checked by; nil means time.Now.
	Now func() time.Time
}

// Join asks the bootstrap named in inv to admit h's peer. It first checks
// that the bootstrap holds the CA the invite pins, and sends the token
// proof only then, bound to this session's two peer IDs. h needs no
// Membership: a newcomer may use a plain host with its final key, close it,
// then build its member host from the returned credentials. A refusal
// returns a *RefusalError, which wraps ErrRefused, holding the bootstrap's
// reason.
func Join(ctx context.Context, h host.Host, inv Invite, req JoinRequest) (Credentials, error) {
	if req.Role == "" {
		req.Role = RoleStudent
	}
	if err := errors.Join(checkNewName(req.Name), validRole(req.Role)); err != nil {
		return Credentials{}, err
	}
	now := req.Now
	if now == nil {
		now = time.Now
	}
	if !now().Before(inv.Expires) {
		return Credentials{}, fmt.Errorf("membership: invite expired at %s: %w", inv.Expires.UTC().Format(time.RFC3339), ErrExpired)
	}
	msg := clientMsg{Kind: kindJoin, TokenID: inv.TokenID, Name: req.Name, Role: req.Role}
	return inTurn(ctx, hangUp(h, inv.Bootstrap.ID), func() (Credentials, error) {
		return exchangeAdmissionAt(ctx, h, inv.Bootstrap, inv.CAFingerprint, now(), req.Waiting, func(nonce [32]byte, bootstrap peer.ID) clientMsg {
			msg.Proof = joinProof(inv.Secret[:], nonce, bootstrap, h.ID(), &msg)
			return msg
		})
	})
}

// busyError is the bootstrap's answer when its admission line is full: no
// refusal, but a time to come back.
type busyError struct {
	after  time.Duration
	reason string
}

func (e *busyError) Error() string {
	return fmt.Sprintf("membership: the bootstrap is busy (%s) and asks to come back in %v", e.reason, e.after)
}

// lostError is an admission stream that failed before the bootstrap's
// challenge arrived: nothing was asked, so inTurn tries again a few times.
// A loaded bootstrap may close a newcomer's connection that it has not
// got to serve in time.
type lostError struct{ err error }

func (e *lostError) Error() string {
	return fmt.Sprintf("membership: the bootstrap closed the admission stream before it answered: %v", e.err)
}
func (e *lostError) Unwrap() error { return e.err }

// lostTries is how many times inTurn asks again after a lostError.
const lostTries = 3

// inTurn runs an admission exchange, and again each time the bootstrap
// answers that its line is full, after the wait it asks for plus a random
// part of it, so a class sent away together does not come back together.
// After a lostError it asks again up to lostTries times, 250 ms later and
// doubling, with the same jitter.
// Meanwhile it hangs up: the bootstrap closes a connection that shows no
// certificate and has no admission under way for long, which could cut the
// next try off half way. It gives up only when ctx would end before the
// next try.
func inTurn(ctx context.Context, hangUp func(), exchange func() (Credentials, error)) (Credentials, error) {
	lost := 0
	for tries := 1; ; tries++ {
		c, err := exchange()
		var busy *busyError
		var wait time.Duration
		switch {
		case errors.As(err, &busy):
			wait = busy.after
		case errors.As(err, new(*lostError)) && lost < lostTries:
			wait = 250 * time.Millisecond << lost
			lost++
		default:
			return c, err
		}
		hangUp()
		wait += rand.N(wait + 1)
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return Credentials{}, fmt.Errorf("%w; asked %d times, and the join's time limit ends before the next turn", err, tries)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Credentials{}, fmt.Errorf("%w; asked %d times: %w", err, tries, ctx.Err())
		case <-t.C:
		}
	}
}

// hangUp closes h's connections to the bootstrap b.
func hangUp(h host.Host, b peer.ID) func() { return func() { _ = h.Network().ClosePeer(b) } }

// Renew asks the bootstrap at ai for a fresh certificate, proving
// membership with the current one in cur (unexpired, or expired less than
// RenewGrace ago), at now by this node's clock. Install the result with
// Membership.SetCert and keep it with SaveCredentials.
func Renew(ctx context.Context, h host.Host, ai peer.AddrInfo, cur Credentials, now time.Time) (Credentials, error) {
	ca, err := ParseCACert(cur.CA)
	if err != nil {
		return Credentials{}, err
	}
	return inTurn(ctx, func() {}, func() (Credentials, error) {
		return exchangeAdmissionAt(ctx, h, ai, Fingerprint(ca), now, nil, func([32]byte, peer.ID) clientMsg {
			return clientMsg{Kind: kindRenew, Cert: cur.Cert}
		})
	})
}

// exchangeAdmission runs the newcomer's side of the admission protocol.
// request builds the request once the challenge has been checked.
func exchangeAdmission(ctx context.Context, h host.Host, ai peer.AddrInfo, pin [32]byte, waiting func(string),
	request func(nonce [32]byte, bootstrap peer.ID) clientMsg) (Credentials, error) {
	return exchangeAdmissionAt(ctx, h, ai, pin, time.Now(), waiting, request)
}

// exchangeAdmissionAt is exchangeAdmission at now by the newcomer's clock.
func exchangeAdmissionAt(ctx context.Context, h host.Host, ai peer.AddrInfo, pin [32]byte, now time.Time, waiting func(string),
	request func(nonce [32]byte, bootstrap peer.ID) clientMsg) (Credentials, error) {
	if err := connectBootstrap(ctx, h, ai); err != nil {
		return Credentials{}, err
	}
	s, err := ihost.OpenStream(ctx, h, ai.ID, ProtocolAdmit)
	if err != nil {
		return Credentials{}, fmt.Errorf("membership: bootstrap %s dropped the connection or serves no admission (is this peer blocked or revoked?): %w", ai.ID, err)
	}
	defer s.Close()
	// A join given up (ctx cancelled) resets the stream, so that a read
	// waiting for the teacher's approval ends, and the bootstrap hears
	// that the newcomer is gone.
	defer context.AfterFunc(ctx, func() { _ = s.Reset() })()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	} else {
		_ = s.SetDeadline(time.Now().Add(3 * time.Minute)) // a teacher may be deciding
	}
	first, err := readServer(s)
	if err != nil {
		if errors.As(err, new(*RefusalError)) || errors.As(err, new(*busyError)) || errors.Is(err, ErrMalformed) {
			return Credentials{}, err
		}
		// Nothing was asked yet, so asking again spends nothing.
		return Credentials{}, &lostError{err: err}
	}
	bootstrap := s.Conn().RemotePeer() // authenticated by the secure channel
	ca, err := checkChallenge(first, pin, bootstrap, h.ID())
	if err != nil {
		_ = s.Reset()
		return Credentials{}, err
	}
	req := request(first.Nonce, bootstrap)
	if err := writeFrame(s, req.encode()); err != nil {
		return Credentials{}, fmt.Errorf("membership: sending admission request: %w", err)
	}
	_ = s.CloseWrite()
	reply, err := readServer(s)
	waited := ""
	for err == nil && reply.Kind == kindWaiting {
		if waited == "" && waiting != nil {
			waiting(reply.Reason)
		}
		waited = reply.Reason
		reply, err = readServer(s)
	}
	if err != nil {
		var refused *RefusalError
		if waited != "" && !errors.As(err, &refused) {
			return Credentials{}, fmt.Errorf("membership: the bootstrap said %q, and then: %w", waited, err)
		}
		return Credentials{}, err
	}
	if reply.Kind != kindGrant {
		return Credentials{}, fmt.Errorf("membership: bootstrap sent message %q where a grant was due: %w", reply.Kind, ErrMalformed)
	}
	v, err := NewVerifier(ca.Raw, nil)
	if err != nil {
		return Credentials{}, err
	}
	if _, err := v.Verify(reply.Cert, h.ID(), now); err != nil {
		return Credentials{}, fmt.Errorf("membership: the bootstrap issued an unusable certificate: %w", err)
	}
	if len(reply.CRL) > 0 {
		if _, err := parseCRL(reply.CRL, ca); err != nil {
			return Credentials{}, fmt.Errorf("membership: the bootstrap sent a bad CRL: %w", err)
		}
	}
	if len(reply.Self) > 0 {
		if _, err := v.Verify(reply.Self, bootstrap, now); err != nil {
			return Credentials{}, fmt.Errorf("membership: the bootstrap's own certificate is unusable: %w", err)
		}
	}
	return Credentials{CA: ca.Raw, Cert: reply.Cert, CRL: reply.CRL, Bootstrap: reply.Self}, nil
}

// readServer reads a bootstrap message; a refusal becomes an error.
func readServer(s network.Stream) (serverMsg, error) {
	b, err := readFrame(s, maxServerMsg, "admission reply")
	if err != nil {
		return serverMsg{}, err
	}
	m, err := decodeServerMsg(b)
	if err != nil {
		return serverMsg{}, err
	}
	switch m.Kind {
	case kindRefusal:
		return serverMsg{}, &RefusalError{Reason: m.Reason}
	case kindBusy:
		return serverMsg{}, &busyError{after: time.Duration(m.RetryMs) * time.Millisecond, reason: m.Reason}
	}
	return m, nil
}

// checkChallenge accepts the bootstrap only if it proved the CA that the
// invite pins, for this session: nothing secret has been sent before this.
func checkChallenge(m serverMsg, pin [32]byte, bootstrap, self peer.ID) (*x509.Certificate, error) {
	if m.Kind != kindChallenge && m.Kind != kindCoordChallenge {
		return nil, fmt.Errorf("membership: bootstrap sent message %q where a challenge was due: %w", m.Kind, ErrMalformed)
	}
	ca, err := ParseCACert(m.CA)
	if err != nil {
		return nil, fmt.Errorf("membership: bootstrap %s: %w", bootstrap, err)
	}
	if fp := Fingerprint(ca); fp != pin {
		return nil, fmt.Errorf("membership: bootstrap %s proved CA %x…, but the invite pins %x…: %w", bootstrap, fp[:8], pin[:8], ErrWrongCA)
	}
	key := ca.PublicKey.(ed25519.PublicKey)
	if m.Kind == kindCoordChallenge {
		if key, err = checkCoordChallenge(m, ca, bootstrap); err != nil {
			return nil, err
		}
	}
	if !ed25519.Verify(key, transcript("sig", m.Nonce, bootstrap, self), m.Sig[:]) {
		return nil, fmt.Errorf("membership: bootstrap %s did not sign this session with the pinned CA: %w", bootstrap, ErrBadChallenge)
	}
	return ca, nil
}

// SaveCredentials keeps a member's credentials in dir (0700): ca.crt and
// member.crt as PEM, crl.der if there is a CRL. Files are 0600 and written
// atomically.
func SaveCredentials(dir string, c Credentials) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, caCertFile), "CERTIFICATE", c.CA); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, memberCertFile), "CERTIFICATE", c.Cert); err != nil {
		return err
	}
	if len(c.CRL) > 0 {
		return writeFileAtomic(filepath.Join(dir, crlFile), c.CRL)
	}
	return nil
}

// LoadCredentials reads what SaveCredentials kept. A missing member.crt
// wraps fs.ErrNotExist: the node has not joined yet.
func LoadCredentials(dir string) (Credentials, error) {
	var c Credentials
	var err error
	if c.Cert, err = readPEM(filepath.Join(dir, memberCertFile), "CERTIFICATE"); err != nil {
		return c, err
	}
	if c.CA, err = readPEM(filepath.Join(dir, caCertFile), "CERTIFICATE"); err != nil {
		return c, err
	}
	c.CRL, err = os.ReadFile(filepath.Join(dir, crlFile))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	return c, err
}

// connectTries is how often a newcomer dials the bootstrap before it gives
// up; between tries it waits connectWait, doubling.
const (
	connectTries = 4
	connectWait  = 250 * time.Millisecond
)

// connectBootstrap dials the bootstrap, trying again a few times within
// ctx: a bootstrap busy with a class joining at once, or with a flood of
// bad attempts from elsewhere, may let a handshake time out, and one lost
// handshake should not cost a student its join.
func connectBootstrap(ctx context.Context, h host.Host, ai peer.AddrInfo) error {
	wait := connectWait
	var err error
	for try := 1; ; try++ {
		// The swarm refuses a dial for a while after a failed one; the
		// tries here keep their own pace.
		if sw, ok := h.Network().(interface{ Backoff() *swarm.DialBackoff }); ok {
			sw.Backoff().Clear(ai.ID)
		}
		if err = h.Connect(ctx, ai); err == nil {
			return nil
		}
		if try == connectTries || ctx.Err() != nil {
			return fmt.Errorf("membership: cannot reach the bootstrap %s (%d tries): %w", ai.ID, try, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("membership: cannot reach the bootstrap %s (%d tries): %w", ai.ID, try, err)
		case <-t.C:
		}
		wait *= 2
	}
}
