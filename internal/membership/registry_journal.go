package membership

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The registry's journal: admissions, renewals and the bootstrap's own
// enrolment are appended to registry.log, one JSON line each, and fsynced,
// instead of rewriting the whole registry.json for each one. Rewriting the
// whole file made every admission cost O(class) — two thirds of the
// bootstrap's CPU when a class of 1000 joined at once. Rarer changes
// (tokens, revocations) still write registry.json, which records the
// journal sequence number it includes, and then empty the journal.
const (
	journalSuffix = ".log"
	// maxJournalLine bounds one entry; a member record is a few hundred
	// bytes.
	maxJournalLine = 64 << 10
	// compactAfter is how many entries the journal holds before the next
	// change rewrites registry.json instead: a whole-file write per
	// thousands of admissions.
	compactAfter = 4096
)

// journalEntry is one line of the journal. Its fields hold the records'
// new values, not differences, so an entry applied twice does no harm.
type journalEntry struct {
	Seq    int64         `json:"seq"`
	Member *MemberRecord `json:"member"`
	Token  *tokenUses    `json:"token,omitempty"`
}

// tokenUses is a token's uses left after an admission.
type tokenUses struct {
	ID       string `json:"id"`
	UsesLeft int    `json:"uses_left"`
}

// decodeJournal parses a journal and says how many of its bytes are whole
// entries. A last line without its newline, or that does not parse, is a
// write that a crash cut off: it was never acknowledged, so it is dropped
// (and the caller cuts it off the file before appending). Any other bad
// line is an error. It decodes bytes from disk and is fuzzed.
func decodeJournal(b []byte) ([]journalEntry, int, error) {
	if len(b) > maxRegistrySize {
		return nil, 0, fmt.Errorf("membership: registry journal of %d bytes (limit %d): %w", len(b), maxRegistrySize, ErrMessageTooLarge)
	}
	var out []journalEntry
	whole := 0
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // a torn last write
		}
		line := b[:i]
		b = b[i+1:]
		e, err := decodeJournalLine(line)
		if err != nil {
			if len(bytes.TrimSpace(b)) == 0 {
				break // the last line, torn
			}
			return nil, 0, fmt.Errorf("membership: registry journal line %d: %w", n, err)
		}
		if len(out) > 0 && e.Seq != out[len(out)-1].Seq+1 {
			return nil, 0, fmt.Errorf("membership: registry journal line %d: sequence %d after %d: %w", n, e.Seq, out[len(out)-1].Seq, ErrMalformed)
		}
		out = append(out, e)
		whole += i + 1
	}
	return out, whole, nil
}

func decodeJournalLine(line []byte) (journalEntry, error) {
	var e journalEntry
	if len(line) > maxJournalLine {
		return e, fmt.Errorf("entry of %d bytes (limit %d): %w", len(line), maxJournalLine, ErrMessageTooLarge)
	}
	dj := json.NewDecoder(bytes.NewReader(line))
	dj.DisallowUnknownFields()
	if err := dj.Decode(&e); err != nil {
		return e, fmt.Errorf("%v: %w", err, ErrMalformed)
	}
	if dj.More() {
		return e, fmt.Errorf("more than one value on the line: %w", ErrMalformed)
	}
	m := e.Member
	if e.Seq <= 0 || m == nil || m.Peer.Validate() != nil {
		return e, fmt.Errorf("entry %d has no valid member: %w", e.Seq, ErrMalformed)
	}
	if err := errors.Join(validName(m.Name), validRole(m.Role), validSerials(m.Serials), validFrom(m.From)); err != nil {
		return e, fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if t := e.Token; t != nil && (len(t.ID) != 32 || !isHex(t.ID) || t.UsesLeft < 0) {
		return e, fmt.Errorf("entry %d: token %.40q with %d uses left: %w", e.Seq, t.ID, t.UsesLeft, ErrMalformed)
	}
	return e, nil
}

// replay applies the journal entries that registry.json does not include
// yet, and checks the result as decodeRegistry checks a file.
func (st *registryState) replay(entries []journalEntry) error {
	for _, e := range entries {
		if e.Seq <= st.JournalSeq {
			continue
		}
		if e.Seq != st.JournalSeq+1 {
			return fmt.Errorf("membership: registry journal entry %d follows the registry's %d: entries are missing: %w", e.Seq, st.JournalSeq, ErrMalformed)
		}
		m := *e.Member
		st.Members[m.Peer.String()] = &m
		if e.Token != nil {
			t, ok := st.Tokens[e.Token.ID]
			if !ok {
				return fmt.Errorf("membership: registry journal entry %d: token %s is not in the registry: %w", e.Seq, e.Token.ID, ErrMalformed)
			}
			if e.Token.UsesLeft > t.Uses {
				return fmt.Errorf("membership: registry journal entry %d: token %s has %d uses left of %d: %w", e.Seq, e.Token.ID, e.Token.UsesLeft, t.Uses, ErrMalformed)
			}
			t.UsesLeft = e.Token.UsesLeft
		}
		st.JournalSeq = e.Seq
	}
	return st.check()
}

// record makes a member's new record (and its token's uses) durable: one
// journal line, or, once the journal is long, a new registry.json. The
// caller holds r.mu and has already changed r.st; on error it undoes that.
func (r *Registry) record(m *MemberRecord, tokenID string) error {
	if r.path == "" {
		return nil // NewMemoryRegistry
	}
	if r.journaled >= compactAfter {
		return r.save()
	}
	e := journalEntry{Seq: r.st.JournalSeq + 1, Member: m}
	if tokenID != "" {
		e.Token = &tokenUses{ID: tokenID, UsesLeft: r.st.Tokens[tokenID].UsesLeft}
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("membership: encoding a registry journal entry: %w", err)
	}
	if err := appendSynced(r.path+journalSuffix, append(line, '\n')); err != nil {
		return err
	}
	r.st.JournalSeq = e.Seq
	r.journaled++
	return nil
}

// appendSynced appends b to the file at path and fsyncs it. If the write
// fails part way, the file is cut back to its old size, so no torn line
// stays behind a later one.
func appendSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("membership: opening the registry journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("membership: registry journal: %w", err)
	}
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if werr != nil {
		_ = f.Truncate(fi.Size())
		_ = f.Close()
		return fmt.Errorf("membership: appending to the registry journal: %w", werr)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("membership: registry journal: %w", err)
	}
	if fi.Size() == 0 {
		return syncDir(filepath.Dir(path)) // a new file: make its name durable too
	}
	return nil
}

// readJournal reads the journal beside a registry file (none is no
// entries) and cuts off a torn last line, so the next entry starts on a
// line of its own.
func readJournal(path string) ([]journalEntry, error) {
	path += journalSuffix
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("membership: reading the registry journal: %w", err)
	}
	es, whole, err := decodeJournal(b)
	if err != nil {
		return nil, err
	}
	if whole < len(b) {
		if err := os.Truncate(path, int64(whole)); err != nil {
			return nil, fmt.Errorf("membership: cutting a torn entry off the registry journal: %w", err)
		}
	}
	return es, nil
}
