package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// The root key offline. A bootstrap with a coordinator group can write the
// network's root key out (Swarm.ExportRootKey; seeder: "root export FILE")
// and remove it from its DataDir: it takes a coordinator certificate of its
// own first, and from then on it admits under it, as the other
// coordinators do under theirs. Started again, it finds the key gone and
// goes on as a coordinator. The root is needed only to appoint a
// coordinator or renew a coordinator certificate (coordinator_renew.go):
// the teacher brings it back by starting the bootstrap with
// Config.RootKeyFile (seeder -root-key FILE) before the certificates end,
// as the coordinators' logs say.

// rootState is what a node keeps about the network's root key.
type rootState struct {
	netDir string
	ttl    time.Duration // of the coordinator certificates the root signs
	// mu orders the signing of coordinator certificates with the export
	// of the key, so that none is signed by a root that is going.
	mu sync.Mutex
	// renewing is set once the loop that renews this coordinator's
	// certificate runs.
	renewing atomic.Bool
	// kick tells that loop the root has just signed a coordinator
	// certificate, so it is back (signed).
	kick chan struct{}
}

// signed tells this node's renewal loop that the root has just signed a
// coordinator certificate (the group's log has the appointment).
func (r *rootState) signed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// coordTTL is the lifetime of the coordinator certificates the root signs.
func (r *rootState) coordTTL() time.Duration {
	if r.ttl > 0 {
		return r.ttl
	}
	return membership.DefaultCoordinatorTTL
}

// offlineRoot reports whether the bootstrap kept in dir (a DataDir) took
// its root key offline.
func offlineRoot(dir string) bool {
	_, off := membership.RootKeyOffline(filepath.Join(dir, networkDirName))
	return off
}

// bootstrapCA is the CA a bootstrap opens with when it is not the root
// kept in netDir: the root brought back from cfg.RootKeyFile, or, with the
// root key offline, this node's own coordinator certificate. Nil: the root
// in netDir (or a new network's).
func bootstrapCA(cfg *Config, netDir string, key crypto.PrivKey) (*membership.CA, error) {
	if cfg.RootKeyFile != "" {
		ca, err := membership.LoadRootCA(netDir, cfg.RootKeyFile)
		if err != nil {
			return nil, fmt.Errorf("p2pshare: Config.RootKeyFile: %w", err)
		}
		return ca, nil
	}
	note, offline := membership.RootKeyOffline(netDir)
	if !offline {
		return nil, nil
	}
	if !exists(filepath.Join(netDir, coordDirName)) {
		return nil, fmt.Errorf("p2pshare: %s: %s, and this node keeps no coordinator group to admit with", netDir, note)
	}
	der, err := os.ReadFile(filepath.Join(netDir, coordCertName))
	if err != nil {
		return nil, fmt.Errorf("p2pshare: the root key is offline and this bootstrap's coordinator certificate cannot be read: %w (%s)", err, note)
	}
	ca, err := membership.NewCoordinatorCA(membershipRootDER(netDir), der, key, cfg.clock())
	if err != nil {
		return nil, fmt.Errorf("p2pshare: the root key is offline and this bootstrap cannot admit under its coordinator certificate: %w; %s", err, note)
	}
	return ca, nil
}

// membershipRootDER is the root certificate a bootstrap keeps in netDir
// (nil if unreadable: NewCoordinatorCA then says so).
func membershipRootDER(netDir string) []byte {
	ca, err := membership.ReadRootCert(netDir)
	if err != nil {
		return nil
	}
	return ca
}

// rootAbsent is the refusal of a node asked to sign with the root it does
// not hold.
func (n *memberNet) rootAbsent() string {
	if note, off := membership.RootKeyOffline(n.root.netDir); off {
		return "the network's root key is offline at the bootstrap (" + note + ")"
	}
	return "this coordinator does not hold the network's root key: the bootstrap does"
}

// refreshOwnCoordCert, on a bootstrap started with its offline root key
// brought back (Config.RootKeyFile), signs the bootstrap a fresh
// coordinator certificate, to admit under when it runs without the key
// again. Its appointment in the group's log tells the coordinators that
// the root is back: those whose certificates are a third through renew
// them now.
func (s *Swarm) refreshOwnCoordCert() {
	n := s.net
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	der, err := func() ([]byte, error) {
		name := n.logged(s.h.ID())
		if name == "" {
			return nil, fmt.Errorf("this node (%s) is not a coordinator in its group's log", s.h.ID())
		}
		return n.signCoordinator(ctx, s.h.ID(), name, time.Now())
	}()
	if err == nil {
		err = membership.SaveCoordinatorCert(filepath.Join(n.root.netDir, coordCertName), der)
	}
	if err != nil {
		s.log.Warn("the root key is back for this run, but the bootstrap's own coordinator certificate was not renewed: started again without the key, it admits until the old one ends", "err", err)
		return
	}
	cc, _ := membership.ParseCoordinatorCert(der)
	s.log.Info("the root key is back for this run: coordinator certificates are renewed", "own ends", stamp(cc.NotAfter))
}

// ExportRootKey writes the network's root key to path — a file the teacher
// then moves to a USB stick — and removes it from this bootstrap's
// DataDir. The bootstrap first takes a coordinator certificate of its own,
// and from then on admits under it, as the coordinators do: admissions,
// invites and revocations go on with the key gone, even across restarts
// and with this node stopped. Appointing a coordinator and renewing the
// coordinators' certificates (every 7 days) need the key back: start the
// bootstrap with Config.RootKeyFile before they end. Only the bootstrap of
// a network with a coordinator group (Config.Coordinators) can do this; a
// file at path is never overwritten unless it holds the key already. On
// an error the key stays where it was.
func (s *Swarm) ExportRootKey(path string) error {
	n := s.net
	if n.boot == nil || n.group == nil || n.appoint == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node, started with a coordinator group (Config.Coordinators), can take the root key offline: without coordinators nobody could admit")
	}
	if path == "" {
		return errors.New("p2pshare: ExportRootKey: the file name is empty")
	}
	n.root.mu.Lock()
	defer n.root.mu.Unlock()
	root := n.boot.CA()
	if !root.IsRoot() {
		return fmt.Errorf("p2pshare: ExportRootKey: this node does not hold the root key: %s", n.rootAbsent())
	}
	name := ""
	for _, c := range n.group.Coordinators() {
		if c.Peer == s.h.ID() {
			name = c.Name
		}
	}
	if name == "" {
		return fmt.Errorf("p2pshare: ExportRootKey: this node (%s) is not a coordinator in its group's log", s.h.ID())
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	now := time.Now()
	der, err := n.signCoordinatorLocked(ctx, s.h.ID(), name, now)
	if err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: this bootstrap's own coordinator certificate, to admit with once the key is gone: %w", err)
	}
	ca, err := membership.NewCoordinatorCA(n.caDER, der, s.key, now)
	if err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: %w", err)
	}
	if err := membership.SaveCoordinatorCert(filepath.Join(n.root.netDir, coordCertName), der); err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: keeping the coordinator certificate: %w", err)
	}
	if err := root.ExportKey(path); err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: %w", err)
	}
	if err := membership.TakeRootKeyOffline(n.root.netDir, path, now); err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: the key is written to %s but %w", path, err)
	}
	if err := n.boot.SetCA(ca); err != nil {
		return fmt.Errorf("p2pshare: ExportRootKey: %w", err)
	}
	cc, _ := membership.ParseCoordinatorCert(der)
	s.log.Info("the network's root key is offline: bring it back (Config.RootKeyFile) before the coordinator certificates end",
		"file", path, "ends", cc.NotAfter.UTC().Format(time.RFC3339))
	s.startCoordRenewal()
	return nil
}
