package membership

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	registryFile    = "registry.json"
	registryFormat  = 1
	maxRegistrySize = 64 << 20 // bytes; about 100,000 members
)

// MemberRecord is the bootstrap's record of one admitted member.
type MemberRecord struct {
	Peer     peer.ID   `json:"peer"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Serials  []string  `json:"serials"` // hex, every certificate issued to it, newest last
	NotAfter time.Time `json:"not_after"`
	Token    string    `json:"token,omitempty"` // the token that admitted it; "" for the bootstrap itself
	Joined   time.Time `json:"joined"`
	// From is the source address it was admitted from (an IPv4 address,
	// an IPv6 /64; "" in registries of earlier versions), for the cap per
	// address (namePolicy).
	From string `json:"from,omitempty"`
}

// TokenRecord is a join token as the bootstrap keeps it. The secret stays
// here (the file is 0600) because the proof is an HMAC under it.
type TokenRecord struct {
	ID       string    `json:"id"` // hex of the 16-byte token ID
	Secret   []byte    `json:"secret"`
	Role     Role      `json:"role"` // the role it admits
	Uses     int       `json:"uses"`
	UsesLeft int       `json:"uses_left"`
	Expires  time.Time `json:"expires"`
	Created  time.Time `json:"created"`
	// Cancelled is when the teacher cancelled it (zero: never): it admits
	// nobody from then on.
	Cancelled time.Time `json:"cancelled,omitzero"`
	// Name, if set, is the one name the token admits (a per-student
	// invite); while it has a use left, no other token may take the name.
	Name string `json:"name,omitempty"`
}

// RevokedRecord is a member removed from the network. Until the teacher
// lifts it, its peer ID and its name (by nameKey) are refused at
// admission: a revoked student cannot come back with a fresh key under its
// old name. Its certificates stay on the CRL even once lifted.
type RevokedRecord struct {
	Peer    peer.ID   `json:"peer"`
	Name    string    `json:"name"`
	Serials []string  `json:"serials"`
	At      time.Time `json:"at"`
	Token   string    `json:"token,omitempty"` // the token that had admitted it
	// Lifted is when the teacher lifted the revocation (zero: not lifted):
	// the peer and the name may be admitted again.
	Lifted time.Time `json:"lifted,omitzero"`
}

// registryState is the persisted form. It is owned by Registry and only
// touched under its mutex.
type registryState struct {
	Format    int                      `json:"format"`
	Members   map[string]*MemberRecord `json:"members"` // by peer ID (base58)
	Tokens    map[string]*TokenRecord  `json:"tokens"`
	Revoked   []RevokedRecord          `json:"revoked"`
	CRLNumber int64                    `json:"crl_number"` // of the newest CRL issued
	// Allow, if set, holds the only names shared invites may admit
	// (namePolicy); absent, any name may join.
	Allow *allowList `json:"allow,omitempty"`
	// JournalSeq is the last journal entry this state includes
	// (registry_journal.go).
	JournalSeq int64 `json:"journal_seq,omitempty"`
}

// allowList is the persisted allow-list.
type allowList struct {
	Names []string `json:"names"`
}

// Registry is the bootstrap's durable state: members, the names they hold,
// tokens and their uses left, revoked members and the CRL number. Every
// change is durable before the call returns: an admission or renewal as one
// fsynced line of a journal beside the file, anything else by rewriting the
// JSON file atomically (temp file, fsync, rename, directory fsync), which
// also empties the journal. It is safe for concurrent use.
type Registry struct {
	path      string
	mu        sync.Mutex
	st        *registryState
	names     map[string]peer.ID  // nameKey → the member holding it
	reserved  map[string]int      // nameKey → index in st.Revoked of a revocation not lifted
	conflicts []string            // names that share a key, found when loading (reindex)
	journaled int                 // entries in the journal
	bound     map[string][]string // nameKey → IDs of the tokens bound to that name
	perAddr   map[string]int      // source address → members admitted from it with shared invites
	policy    namePolicy          // Allow from st.Allow; MaxPerAddr from the bootstrap's configuration
}

// OpenRegistry loads the registry at path, or starts an empty one there if
// the file does not exist (it is written on the first change).
func OpenRegistry(path string) (*Registry, error) {
	st := &registryState{Format: registryFormat, Members: map[string]*MemberRecord{}, Tokens: map[string]*TokenRecord{}}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if st, err = decodeRegistry(b); err != nil {
			return nil, fmt.Errorf("%w (file %s)", err, path)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("membership: reading registry: %w", err)
	}
	entries, err := readJournal(path)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s%s)", err, path, journalSuffix)
	}
	if err := st.replay(entries); err != nil {
		return nil, fmt.Errorf("%w (file %s%s)", err, path, journalSuffix)
	}
	r := &Registry{path: path, st: st, journaled: len(entries)}
	r.reindex()
	return r, nil
}

// reindex rebuilds the name indexes from r.st. Names are compared by
// nameKey, which is stricter than the lower-casing of earlier versions, so
// a registry written by one may hold two members whose names now share a
// key ("s1234" and "ſ1234"). Both stay members; the one who joined first
// holds the name (lookups by name find it), and the other is listed in
// NameConflicts for the teacher to look at (revoking it by peer ID, say).
// The caller holds r.mu, or owns r alone.
func (r *Registry) reindex() {
	ms := make([]*MemberRecord, 0, len(r.st.Members))
	for _, m := range r.st.Members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].Joined.Equal(ms[j].Joined) {
			return ms[i].Joined.Before(ms[j].Joined)
		}
		return ms[i].Peer < ms[j].Peer
	})
	r.names, r.reserved, r.conflicts = make(map[string]peer.ID, len(ms)), map[string]int{}, nil
	for _, m := range ms {
		k := nameKey(m.Name)
		if q, ok := r.names[k]; ok {
			r.conflicts = append(r.conflicts, fmt.Sprintf("name %q of peer %s reads the same as %q of peer %s, who joined first and holds it",
				m.Name, m.Peer, r.st.Members[q.String()].Name, q))
			continue
		}
		r.names[k] = m.Peer
	}
	for i, rv := range r.st.Revoked {
		if rv.Lifted.IsZero() {
			r.reserved[nameKey(rv.Name)] = i
		}
	}
	r.bound, r.perAddr = map[string][]string{}, map[string]int{}
	for id, t := range r.st.Tokens {
		if t.Name != "" {
			r.bound[nameKey(t.Name)] = append(r.bound[nameKey(t.Name)], id)
		}
	}
	for _, m := range ms {
		if t := r.st.Tokens[m.Token]; m.From != "" && t != nil && t.Name == "" {
			r.perAddr[m.From]++
		}
	}
	r.policy.Allow = nil
	if r.st.Allow != nil {
		r.policy.Allow = make(map[string]bool, len(r.st.Allow.Names))
		for _, n := range r.st.Allow.Names {
			r.policy.Allow[nameKey(n)] = true
		}
	}
}

// NameConflicts lists the members found, when the registry was loaded, to
// share a name with an earlier member (see reindex); the bootstrap logs
// them.
func (r *Registry) NameConflicts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.conflicts...)
}

// decodeRegistry parses and checks a registry file. It decodes bytes from
// disk and is fuzzed.
func decodeRegistry(b []byte) (*registryState, error) {
	if len(b) > maxRegistrySize {
		return nil, fmt.Errorf("membership: registry of %d bytes (limit %d): %w", len(b), maxRegistrySize, ErrMessageTooLarge)
	}
	var st registryState
	dj := json.NewDecoder(bytes.NewReader(b))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&st); err != nil {
		return nil, fmt.Errorf("membership: registry: %v: %w", err, ErrMalformed)
	}
	if st.Format != registryFormat {
		return nil, fmt.Errorf("membership: registry format %d, this program reads %d: %w", st.Format, registryFormat, ErrMalformed)
	}
	if st.Members == nil {
		st.Members = map[string]*MemberRecord{}
	}
	if st.Tokens == nil {
		st.Tokens = map[string]*TokenRecord{}
	}
	if st.JournalSeq < 0 {
		return nil, fmt.Errorf("membership: registry: journal sequence %d: %w", st.JournalSeq, ErrMalformed)
	}
	if err := st.check(); err != nil {
		return nil, err
	}
	return &st, nil
}

// check is what must hold of every registry state: well-formed members,
// tokens, revocations and CRL number. Two members whose names share a key
// are not an error here (see reindex).
func (st *registryState) check() error {
	for k, m := range st.Members {
		if m == nil || m.Peer.String() != k || m.Peer.Validate() != nil {
			return fmt.Errorf("membership: registry: member entry %.60q is empty or names another peer: %w", k, ErrMalformed)
		}
		if err := errors.Join(validName(m.Name), validRole(m.Role), validSerials(m.Serials), validFrom(m.From)); err != nil {
			return fmt.Errorf("membership: registry: member %s: %w", k, err)
		}
	}
	for id, t := range st.Tokens {
		if t == nil || t.ID != id || len(id) != 32 || !isHex(id) || len(t.Secret) != 32 {
			return fmt.Errorf("membership: registry: token entry %q is malformed: %w", id, ErrMalformed)
		}
		if t.UsesLeft < 0 || t.UsesLeft > t.Uses || validRole(t.Role) != nil {
			return fmt.Errorf("membership: registry: token %s has %d of %d uses left, role %q: %w", id, t.UsesLeft, t.Uses, t.Role, ErrMalformed)
		}
		if t.Name != "" {
			if err := validName(t.Name); err != nil {
				return fmt.Errorf("membership: registry: token %s: %w", id, err)
			}
		}
	}
	if st.Allow != nil {
		for i, n := range st.Allow.Names {
			if err := validName(n); err != nil {
				return fmt.Errorf("membership: registry: allowed name %d: %w", i+1, err)
			}
		}
	}
	for _, rv := range st.Revoked {
		if rv.Peer.Validate() != nil || validSerials(rv.Serials) != nil || validName(rv.Name) != nil ||
			(rv.Token != "" && (len(rv.Token) != 32 || !isHex(rv.Token))) {
			return fmt.Errorf("membership: registry: revoked entry %q is malformed: %w", rv.Name, ErrMalformed)
		}
	}
	if st.CRLNumber < 0 {
		return fmt.Errorf("membership: registry: CRL number %d: %w", st.CRLNumber, ErrMalformed)
	}
	return nil
}

func validSerials(ss []string) error {
	for _, s := range ss {
		if _, ok := new(big.Int).SetString(s, 16); !ok || len(s) > 40 {
			return fmt.Errorf("membership: serial %.48q is not hex: %w", s, ErrMalformed)
		}
	}
	return nil
}

// validFrom checks a member's source address for shape: short, printable.
func validFrom(a string) error {
	if len(a) > 64 || strings.IndexFunc(a, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return fmt.Errorf("membership: source address %.70q: %w", a, ErrMalformed)
	}
	return nil
}

func isHex(s string) bool { _, err := hex.DecodeString(s); return err == nil }

func serialHex(s *big.Int) string { return s.Text(16) }

// save writes the whole state and then empties the journal, whose entries
// it includes (JournalSeq says so, should the journal outlive a crash
// here); the caller holds r.mu.
func (r *Registry) save() error {
	if r.path == "" {
		return nil // NewMemoryRegistry
	}
	b, err := json.MarshalIndent(r.st, "", "  ")
	if err != nil {
		return fmt.Errorf("membership: encoding registry: %w", err)
	}
	if err := writeFileAtomic(r.path, b); err != nil {
		return err
	}
	// The file now holds everything: a journal that cannot be emptied is
	// only longer, its entries skipped when read.
	if r.journaled > 0 && os.Truncate(r.path+journalSuffix, 0) == nil {
		r.journaled = 0
	}
	return nil
}

// AddToken records a new join token durably.
func (r *Registry) AddToken(t TokenRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.st.Tokens[t.ID]; ok {
		return fmt.Errorf("membership: token %s already exists", t.ID)
	}
	r.st.Tokens[t.ID] = &t
	if err := r.save(); err != nil {
		delete(r.st.Tokens, t.ID)
		return err
	}
	if t.Name != "" {
		r.bound[nameKey(t.Name)] = append(r.bound[nameKey(t.Name)], t.ID)
	}
	return nil
}

// Token returns a copy of a token's record.
func (r *Registry) Token(id string) (TokenRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.st.Tokens[id]
	if !ok {
		return TokenRecord{}, false
	}
	return *t, true
}

// Member returns a copy of p's record.
func (r *Registry) Member(p peer.ID) (MemberRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.st.Members[p.String()]
	if !ok {
		return MemberRecord{}, false
	}
	c := *m
	c.Serials = append([]string(nil), m.Serials...)
	return c, true
}

// Members lists every current member, by name.
func (r *Registry) Members() []MemberRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MemberRecord, 0, len(r.st.Members))
	for _, m := range r.st.Members {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Revoked lists every revoked member, oldest first.
func (r *Registry) Revoked() []RevokedRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RevokedRecord(nil), r.st.Revoked...)
}

// CRLNumber is the number of the newest CRL issued (0: none yet).
func (r *Registry) CRLNumber() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.CRLNumber
}
