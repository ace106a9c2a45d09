package membership

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A bootstrap that is one of a coordinator group (internal/coord) admits
// with a coordinator's CA (NewCoordinatorCA) and commits every registry
// change to the group's log instead of its own registry file: the group's
// Ledger. Its decisions are the registry's own either way; what changes is
// where they are made durable, and that a name or a token use is decided
// once for the whole group.

// Ledger is where a coordinator's bootstrap commits registry changes.
type Ledger interface {
	// Registry is the registry as committed so far, which the bootstrap
	// reads (tokens, members, revocations).
	Registry() *Registry
	// Change commits c and returns its outcome once it is committed: the
	// registry's refusal (IsRefusal), or an error that says why nothing
	// could be committed. The bootstrap gives it no deadline: the Ledger
	// bounds the wait itself (an election takes seconds).
	Change(ctx context.Context, c Change) (ChangeResult, error)
}

// registryWriter is what the bootstrap changes the registry through: the
// registry itself, or a Ledger.
type registryWriter interface {
	admit(j joinRecord, serial *big.Int, notAfter, now time.Time) error
	renew(p peer.ID, serial *big.Int, notAfter time.Time) (MemberRecord, error)
	enroll(p peer.ID, name string, role Role, serial *big.Int, notAfter, now time.Time) error
	AddToken(t TokenRecord) error
	revoke(who string, cancelToken bool, now time.Time) (RevokedRecord, int64, error)
	lift(who string, now time.Time) ([]RevokedRecord, int64, error)
	cancelToken(id string, now time.Time) (TokenRecord, error)
}

// ledgerWriter commits each change to a Ledger.
type ledgerWriter struct{ l Ledger }

func (w ledgerWriter) commit(c Change) (ChangeResult, error) {
	r, err := w.l.Change(context.Background(), c)
	if err != nil && !IsRefusal(err) {
		// The newcomer is told why: no majority of the coordinators, say.
		return r, refuse("the coordinators could not record this: %s", strings.TrimPrefix(err.Error(), "coord: "))
	}
	return r, err
}

func (w ledgerWriter) admit(j joinRecord, serial *big.Int, notAfter, now time.Time) error {
	_, err := w.commit(Change{Op: OpAdmit, At: now, Peer: j.Peer, Name: j.Name, Role: j.Role, TokenID: j.Token, Addr: j.Addr,
		Serial: serialHex(serial), NotAfter: notAfter})
	return err
}

func (w ledgerWriter) renew(p peer.ID, serial *big.Int, notAfter time.Time) (MemberRecord, error) {
	r, err := w.commit(Change{Op: OpRenew, At: time.Now(), Peer: p, Serial: serialHex(serial), NotAfter: notAfter})
	return r.Member, err
}

func (w ledgerWriter) enroll(p peer.ID, name string, role Role, serial *big.Int, notAfter, now time.Time) error {
	_, err := w.commit(Change{Op: OpEnroll, At: now, Peer: p, Name: name, Role: role, Serial: serialHex(serial), NotAfter: notAfter})
	return err
}

func (w ledgerWriter) AddToken(t TokenRecord) error {
	if _, err := w.commit(Change{Op: OpAddToken, At: t.Created, Token: &t}); err != nil {
		return err
	}
	// Committed by the leader; a follower applies it a heartbeat later.
	// The invite is handed out once this coordinator has it too, so that
	// a newcomer who uses it at once is not told the token is unknown
	// here. (Past the wait it comes all the same.)
	for end := time.Now().Add(tokenApplyWait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, ok := w.l.Registry().Token(t.ID); ok {
			break
		}
	}
	return nil
}

// tokenApplyWait bounds AddToken's wait for this coordinator to apply a
// token the leader committed.
const tokenApplyWait = 5 * time.Second

func (w ledgerWriter) revoke(who string, cancelToken bool, now time.Time) (RevokedRecord, int64, error) {
	r, err := w.commit(Change{Op: OpRevoke, At: now, Who: who, CancelToken: cancelToken})
	if err != nil || len(r.Revoked) != 1 {
		return RevokedRecord{}, 0, err
	}
	return r.Revoked[0], r.CRLNumber, nil
}

func (w ledgerWriter) lift(who string, now time.Time) ([]RevokedRecord, int64, error) {
	r, err := w.commit(Change{Op: OpLift, At: now, Who: who})
	return r.Revoked, r.CRLNumber, err
}

func (w ledgerWriter) cancelToken(id string, now time.Time) (TokenRecord, error) {
	r, err := w.commit(Change{Op: OpCancelToken, At: now, TokenID: id})
	return r.Token, err
}

// challenge is the bootstrap's first message to a newcomer p: proof, for
// this session, that it holds the network's root key, or a coordinator's
// key and the root's certificate for it.
func (b *Bootstrap) challenge(nonce [32]byte, self, p peer.ID) serverMsg {
	ca := b.CA()
	ch := serverMsg{Kind: kindChallenge, CA: ca.CertDER(), Nonce: nonce}
	if cc := ca.Coordinator(); cc != nil {
		ch.Kind, ch.Coord = kindCoordChallenge, cc
	}
	copy(ch.Sig[:], ca.sign(transcript("sig", nonce, self, p)))
	return ch
}

// checkCoordChallenge is checkChallenge's part for a coordinator: its
// certificate is the root's, for the peer this session runs with, and
// valid now; it returns the key that must have signed the session.
func checkCoordChallenge(m serverMsg, root *x509.Certificate, bootstrap peer.ID) (ed25519.PublicKey, error) {
	cc, err := ParseCoordinatorCert(m.Coord)
	if err != nil {
		return nil, fmt.Errorf("membership: coordinator %s: %w", bootstrap, err)
	}
	if err := checkCoordinator(cc, root, time.Now()); err != nil {
		return nil, fmt.Errorf("membership: coordinator %s: %w", bootstrap, err)
	}
	if cc.Peer != bootstrap {
		return nil, fmt.Errorf("membership: peer %s showed the coordinator certificate of %q for peer %s: %w", bootstrap, cc.Name, cc.Peer, ErrPeerMismatch)
	}
	return cc.x509.PublicKey.(ed25519.PublicKey), nil
}

// openCAAndRegistry is the bootstrap's CA and registry: cfg's, or the root
// and the registry file kept in cfg.Dir.
func openCAAndRegistry(cfg BootstrapConfig) (*CA, *Registry, registryWriter, error) {
	ca := cfg.CA
	if ca == nil {
		var err error
		if ca, err = LoadOrCreateCA(cfg.Dir, cfg.Now()); err != nil {
			return nil, nil, nil, err
		}
	}
	if cfg.Ledger != nil {
		// The allow-list and the cap per address are registry state that
		// the log does not carry yet: set on one coordinator only, they
		// would make the coordinators decide a join differently.
		if cfg.AllowNames != nil || cfg.MaxPerAddress != 0 {
			return nil, nil, nil, fmt.Errorf("membership: BootstrapConfig.AllowNames (%d names) and MaxPerAddress (%d) are not kept by a coordinator group yet: leave them out with a Ledger",
				len(cfg.AllowNames), cfg.MaxPerAddress)
		}
		return ca, cfg.Ledger.Registry(), ledgerWriter{cfg.Ledger}, nil
	}
	reg, err := OpenRegistry(filepath.Join(cfg.Dir, registryFile))
	if err != nil {
		return nil, nil, nil, err
	}
	return ca, reg, reg, nil
}

// SyncCRL signs and applies a CRL of the registry's revocations when the
// registry's CRL number is past that of the CRL this bootstrap holds: on a
// coordinator, once another coordinator's revocation or lift is
// committed, so that this one drops the revoked peers too, spreads the
// list, and hands it to the newcomers it admits.
func (b *Bootstrap) SyncCRL() error {
	b.crlMu.Lock()
	defer b.crlMu.Unlock()
	n := b.reg.CRLNumber()
	b.mu.Lock()
	cur := b.crl
	b.mu.Unlock()
	if cur != nil {
		if l, err := x509.ParseRevocationList(cur); err == nil && l.Number != nil && l.Number.Int64() >= n {
			return nil
		}
	} else if n == 0 {
		return nil
	}
	var drop []peer.ID
	for _, rv := range b.reg.Revoked() {
		if rv.Lifted.IsZero() {
			drop = append(drop, rv.Peer)
		}
	}
	b.log.Info("CRL of the group's revocations", "crl", n)
	return b.publishCRL(n, drop)
}
