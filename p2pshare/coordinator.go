package p2pshare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/internal/coord"
	"github.com/p2pshare/p2pshare/internal/membership"
)

// Co-coordinators. A bootstrap started with Config.Coordinators keeps the
// registry in a coordinator group (internal/coord) from the start. A member
// started with Config.Coordinator asks it, on protocolAppoint, to be
// appointed; once the teacher has named it (Config.Coordinators, or
// Swarm.Appoint), the bootstrap tells it who the coordinators are, the
// member opens its part of the group, the group appoints it, and the root
// signs its coordinator certificate. From then on the member admits
// newcomers (with the root's invites), signs their certificates and
// revocations under its coordinator certificate, and commits every
// registry change to the group.

// protocolAppoint is a member's request to become a coordinator.
const protocolAppoint protocol.ID = "/p2pshare/coord/appoint/1.0.0"

// Files a coordinator keeps in its DataDir's network folder.
const (
	coordDirName      = "coord"             // the group's log and snapshots
	coordCertName     = "coordinator.crt"   // its coordinator certificate (DER)
	coordContactsName = "coordinators.json" // the coordinators when it was appointed
)

// appointMsg is one message of protocolAppoint, as JSON in a frame.
type appointMsg struct {
	Step         string        `json:"step,omitempty"`         // member: "ask", then "ready"
	Refusal      string        `json:"refusal,omitempty"`      // bootstrap: why not
	Coordinators []appointPeer `json:"coordinators,omitempty"` // bootstrap, to "ask": who to take Raft traffic from
	Cert         []byte        `json:"cert,omitempty"`         // bootstrap, to "ready": the coordinator certificate
}

type appointPeer struct {
	ID    peer.ID  `json:"id"`
	Addrs []string `json:"addrs"`
}

const maxAppointMsg = 64 << 10

// decodeAppointMsg parses a protocolAppoint message. It decodes bytes from
// the network and is fuzzed.
func decodeAppointMsg(b []byte) (appointMsg, error) {
	var m appointMsg
	if len(b) > maxAppointMsg {
		return m, fmt.Errorf("p2pshare: appointment message of %d bytes (limit %d)", len(b), maxAppointMsg)
	}
	dj := json.NewDecoder(strings.NewReader(string(b)))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&m); err != nil {
		return appointMsg{}, fmt.Errorf("p2pshare: appointment message: %v", err)
	}
	if len(m.Coordinators) > 16 {
		return appointMsg{}, fmt.Errorf("p2pshare: appointment message names %d coordinators (limit 16)", len(m.Coordinators))
	}
	for _, c := range m.Coordinators {
		if c.ID.Validate() != nil || len(c.Addrs) > 16 {
			return appointMsg{}, fmt.Errorf("p2pshare: appointment message names coordinator %.60q with %d addresses", c.ID, len(c.Addrs))
		}
		for _, a := range c.Addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return appointMsg{}, fmt.Errorf("p2pshare: appointment message: coordinator %s address %.80q: %v", c.ID, a, err)
			}
		}
	}
	return m, nil
}

func writeAppoint(w io.Writer, m appointMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var hdr [4]byte
	hdr[0], hdr[1], hdr[2], hdr[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
	_, err = w.Write(append(hdr[:], b...))
	return err
}

func readAppoint(r io.Reader) (appointMsg, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return appointMsg{}, fmt.Errorf("p2pshare: reading an appointment message: %w", err)
	}
	n := int(hdr[0])<<24 | int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if n > maxAppointMsg {
		return appointMsg{}, fmt.Errorf("p2pshare: appointment message of %d bytes (limit %d)", n, maxAppointMsg)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return appointMsg{}, fmt.Errorf("p2pshare: reading an appointment message: %w", err)
	}
	return decodeAppointMsg(b)
}

// appointer is the bootstrap's side: the names the teacher lets become
// coordinators.
type appointer struct {
	mu    sync.Mutex
	names map[string]bool
}

func (a *appointer) allow(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.names[strings.ToLower(name)] = true
}

func (a *appointer) allowed(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.names[strings.ToLower(name)]
}

// openGroup opens the bootstrap's coordinator group, if cfg asks for one,
// in netDir: the first time, as a new group of one.
func openGroup(cfg *Config, h host.Host, netDir, name string, n *memberNet) (membership.Ledger, error) {
	if cfg.Coordinators == nil && !exists(filepath.Join(netDir, coordDirName)) {
		return nil, nil
	}
	imp, err := groupImport(netDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	g, err := coord.Open(coord.Config{Host: h, Dir: filepath.Join(netDir, coordDirName), Bootstrap: true, Name: name, Log: cfg.Logger,
		Applied: n.applied, Import: imp, Approve: groupApprover(cfg)})
	if err != nil {
		return nil, fmt.Errorf("p2pshare: opening the coordinator group: %w", err)
	}
	commitPolicy(cfg, g, cfg.Logger)
	n.group = g
	n.appoint = &appointer{names: map[string]bool{}}
	for _, c := range cfg.Coordinators {
		n.appoint.allow(c)
	}
	return g, nil
}

// Appoint lets the member named name become a co-coordinator when it asks
// (it runs with Config.Coordinator). Only the network's bootstrap node,
// started with Config.Coordinators, appoints.
func (s *Swarm) Appoint(name string) error {
	if s.net.appoint == nil {
		return errorOf(ErrNotBootstrap, nil, "only the network's bootstrap node, started with a coordinator group (Config.Coordinators), appoints coordinators")
	}
	if strings.TrimSpace(name) == "" {
		return errors.New("p2pshare: Appoint: the name is empty")
	}
	s.net.appoint.allow(name)
	return nil
}

// Coordinators lists the coordinators of this node's group, by name, as
// this node's log has them; nil if it is in none.
func (s *Swarm) Coordinators() []string {
	if s.net.group == nil {
		return nil
	}
	var out []string
	for _, c := range s.net.group.Coordinators() {
		out = append(out, c.Name)
	}
	return out
}

// serveAppoint is the bootstrap's side of protocolAppoint.
func (n *memberNet) serveAppoint(h host.Host) network.StreamHandler {
	return func(s network.Stream) {
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(time.Minute))
		p := s.Conn().RemotePeer()
		mc, ok := n.m.Member(p)
		if !ok {
			_ = s.Reset()
			return
		}
		if m, err := readAppoint(s); err != nil || m.Step != "ask" {
			_ = s.Reset()
			return
		}
		switch {
		case !n.boot.CA().IsRoot():
			_ = writeAppoint(s, appointMsg{Refusal: n.rootAbsent()})
			return
		case !n.appoint.allowed(mc.Name):
			_ = writeAppoint(s, appointMsg{Refusal: fmt.Sprintf("%q is not named a coordinator: the teacher types \"appoint %s\" at the bootstrap", mc.Name, mc.Name)})
			return
		}
		var cs []appointPeer
		for _, c := range n.group.Coordinators() {
			ap := appointPeer{ID: c.Peer}
			addrs := h.Peerstore().Addrs(c.Peer)
			if c.Peer == h.ID() {
				addrs = h.Addrs()
			}
			for _, a := range addrs {
				ap.Addrs = append(ap.Addrs, a.String())
			}
			cs = append(cs, ap)
		}
		if err := writeAppoint(s, appointMsg{Coordinators: cs}); err != nil {
			return
		}
		if m, err := readAppoint(s); err != nil || m.Step != "ready" {
			_ = s.Reset()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var reply appointMsg
		if der, err := n.signCoordinator(ctx, p, mc.Name, time.Now()); err != nil {
			reply.Refusal = err.Error()
		} else {
			reply.Cert = der
		}
		_ = writeAppoint(s, reply)
	}
}

// becomeCoordinator makes this member one of the group: from the kept
// coordinator certificate and log, or by asking its bootstrap.
func (s *Swarm) becomeCoordinator(ctx context.Context) error {
	netDir := s.net.root.netDir // DataDir's, or the temporary one of a node without
	certPath := filepath.Join(netDir, coordCertName)
	var known []appointPeer
	var cert []byte
	if b, err := os.ReadFile(certPath); err == nil {
		cert = b
		if kb, err := os.ReadFile(filepath.Join(netDir, coordContactsName)); err == nil {
			_ = json.Unmarshal(kb, &known)
		}
	}
	if cert == nil && len(s.net.joinVia) == 0 {
		return errors.New("p2pshare: Config.Coordinator: this member knows no bootstrap to ask for its appointment")
	}
	t := s.cfg.JoinTimeout
	if t == 0 {
		t = defaultJoinTimeout
	}
	actx, cancel := context.WithTimeout(ctx, 4*t)
	defer cancel()
	var st network.Stream
	if cert == nil {
		var err error
		if st, known, err = s.askAppointment(actx, s.net.joinVia[0].ID); err != nil {
			return err
		}
		defer st.Close()
	}
	var ids []peer.ID
	for _, c := range known {
		ids = append(ids, c.ID)
		for _, a := range c.Addrs {
			if m, err := ma.NewMultiaddr(a); err == nil && c.ID != s.h.ID() {
				s.h.Peerstore().AddAddr(c.ID, m, time.Hour)
			}
		}
	}
	g, err := coord.Open(coord.Config{Host: s.h, Dir: filepath.Join(netDir, coordDirName), Name: s.cfg.Name, Known: ids, Log: s.log,
		Applied: s.net.applied, Approve: groupApprover(&s.cfg)})
	if err != nil {
		return fmt.Errorf("p2pshare: opening the coordinator group: %w", err)
	}
	s.net.group = g
	if cert == nil {
		if err := writeAppoint(st, appointMsg{Step: "ready"}); err != nil {
			return fmt.Errorf("p2pshare: asking to be appointed: %w", err)
		}
		_ = st.SetDeadline(time.Now().Add(45 * time.Second))
		m, err := readAppoint(st)
		if err != nil {
			return fmt.Errorf("p2pshare: waiting to be appointed: %w", err)
		}
		if m.Refusal != "" {
			return errorOf(ErrRefused, nil, "not appointed a coordinator: %s", m.Refusal)
		}
		cert = m.Cert
		kb, _ := json.Marshal(known)
		if err := errors.Join(os.MkdirAll(netDir, 0o700), os.WriteFile(certPath, cert, 0o600),
			os.WriteFile(filepath.Join(netDir, coordContactsName), kb, 0o600)); err != nil {
			return fmt.Errorf("p2pshare: keeping the coordinator certificate: %w", err)
		}
	}
	// The appointment is committed; wait until this node's own log has
	// it too, so that what it reports of the group includes itself.
	for end := time.Now().Add(10 * time.Second); !isCoordinator(g, s.h.ID()) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	ca, err := membership.NewCoordinatorCA(s.net.caDER, cert, s.key, time.Now())
	if err != nil {
		return fmt.Errorf("p2pshare: the coordinator certificate: %w", err)
	}
	b, err := membership.OpenBootstrap(membership.BootstrapConfig{Dir: netDir, CA: ca, Ledger: g, Log: s.log,
		Approve: groupAsk(g, s.cfg.Name), ApproveWhen: g.ApprovalRequired})
	if err != nil {
		return fmt.Errorf("p2pshare: starting admissions: %w", err)
	}
	if err := b.Attach(s.h, s.net.m); err != nil {
		b.Close()
		return fmt.Errorf("p2pshare: %w", err)
	}
	s.net.boot = b
	s.net.syncCRL.Store(b)
	s.h.SetStreamHandler(protocolRenewCoord, s.net.m.GuardHandler(s.net.serveRenewCoord))
	go s.net.applied(coord.Applied{}) // revocations committed before it could sign
	if n := len(g.Voters()); n > 0 && n%2 == 0 {
		s.log.Warn("the coordinator group has an even number of coordinators: two cannot outvote the loss of one, so it rides out no more failures than one fewer would", "coordinators", n)
	}
	return nil
}

// askAppointment asks the bootstrap b, again every two seconds while the
// teacher has not named this member, and returns the stream, now waiting
// for "ready", with the coordinators it named.
func (s *Swarm) askAppointment(ctx context.Context, b peer.ID) (network.Stream, []appointPeer, error) {
	for {
		st, err := s.h.NewStream(ctx, b, protocolAppoint)
		if err != nil {
			return nil, nil, fmt.Errorf("p2pshare: asking bootstrap %s to be appointed a coordinator: %w", b, err)
		}
		_ = st.SetDeadline(time.Now().Add(30 * time.Second))
		m, err := func() (appointMsg, error) {
			if err := writeAppoint(st, appointMsg{Step: "ask"}); err != nil {
				return appointMsg{}, err
			}
			return readAppoint(st)
		}()
		if err != nil {
			_ = st.Reset()
			return nil, nil, fmt.Errorf("p2pshare: asking bootstrap %s to be appointed a coordinator: %w", b, err)
		}
		if m.Refusal == "" {
			return st, m.Coordinators, nil
		}
		_ = st.Close()
		s.log.Info("not appointed a coordinator yet", "reason", m.Refusal)
		t := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, errorOf(ErrRefused, nil, "not appointed a coordinator before the time limit: %s", m.Refusal)
		case <-t.C:
		}
	}
}

// joinAny admits this node through the invite's bootstrap, or, if that
// cannot be reached, through each of the coordinators the invite names
// and then of Config.BootstrapPeers in turn: a refusal is an answer, and
// ends it.
// It returns the contact that admitted it.
func joinAny(ctx context.Context, cfg *Config, log *slog.Logger, h host.Host, inv membership.Invite, name string) (membership.Credentials, peer.AddrInfo, error) {
	contacts := append([]peer.AddrInfo{inv.Bootstrap}, inv.Coordinators...)
	more, _ := cfg.bootstrap()
	contacts = append(contacts, more...)
	var errs []error
	for _, c := range contacts {
		inv.Bootstrap = c
		creds, err := join(ctx, cfg, log, h, inv, name)
		if err == nil {
			return creds, c, nil
		}
		if errors.Is(err, ErrRefused) || errors.Is(err, ErrWrongNetwork) || errors.Is(err, ErrInviteExpired) || ctx.Err() != nil {
			return membership.Credentials{}, c, err
		}
		errs = append(errs, err)
	}
	return membership.Credentials{}, peer.AddrInfo{}, errors.Join(errs...)
}

func isCoordinator(g *coord.Group, p peer.ID) bool {
	for _, c := range g.Coordinators() {
		if c.Peer == p {
			return true
		}
	}
	return false
}

// coordinatorContacts are the other coordinators of this node's group,
// with the addresses it knows, for an invite to name.
func (s *Swarm) coordinatorContacts() []peer.AddrInfo {
	if s.net.group == nil {
		return nil
	}
	var out []peer.AddrInfo
	for _, c := range s.net.group.Coordinators() {
		if c.Peer != s.h.ID() {
			out = append(out, peer.AddrInfo{ID: c.Peer, Addrs: s.h.Peerstore().Addrs(c.Peer)})
		}
	}
	return out
}

// applied follows the group's log on this coordinator: a revocation or a
// lift committed through another one means a new CRL here too. It runs
// inside the group's state machine, so the signing goes on apart.
func (n *memberNet) applied(a coord.Applied) {
	if a.Err == nil && a.Coordinator != nil && a.Coordinator.Serial != "" {
		n.root.signed() // the root signs now: renew this one's too, if it is old
	}
	if c := a.Change; a.Err != nil || a.Coordinator != nil || (c != nil && c.Op != membership.OpRevoke && c.Op != membership.OpLift) {
		return
	}
	b := n.syncCRL.Load()
	if b == nil {
		return
	}
	// On failure the next revocation tries again.
	go func() { _ = b.SyncCRL() }()
}
