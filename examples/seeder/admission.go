package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/p2pshare/p2pshare/p2pshare"
)

// readAllowNames reads -allow-names: one name a line; blank lines and
// everything after a # are skipped. Every name must pass the rules for new
// names (p2pshare.CheckName); the error names the file and line.
func readAllowNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-allow-names: %w", err)
	}
	return parseAllowNames(path, b)
}

func parseAllowNames(path string, b []byte) ([]string, error) {
	names := []string{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		name := strings.TrimSpace(line)
		if name == "" {
			continue
		}
		if err := p2pshare.CheckName(name); err != nil {
			return nil, fmt.Errorf("-allow-names %s line %d: %s", path, n, strings.TrimPrefix(err.Error(), "p2pshare: "))
		}
		if first, ok := seen[name]; ok {
			return nil, fmt.Errorf("-allow-names %s line %d: %q is on line %d already", path, n, name, first)
		}
		seen[name] = n
		names = append(names, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-allow-names %s: %w", path, err)
	}
	return names, nil
}

// appendAllowName adds name to the -allow-names file, so that the next run
// with the same command keeps it.
func appendAllowName(path, name string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s\n", name)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// admission is how the bootstrap admits newcomers, as its options set it.
type admission struct {
	sharedInvite bool // a class invite is printed (-invite-uses above 0)
	allowList    int  // names on the allow-list; -1: none, any name
	approve      bool // each join waits for the teacher (-approve)
	maxPerAddr   int  // -max-per-address; 0: no cap
}

// String is the one line that says which mode the bootstrap is in.
func (a admission) String() string {
	var parts []string
	switch {
	case !a.sharedInvite:
		parts = append(parts, `per-student invites: no class invite, "invite NAME" prints one bound to a student`)
	case a.allowList >= 0:
		parts = append(parts, fmt.Sprintf(`allow-list: the class invite admits the %d listed names only ("allow NAME" adds one); "invite NAME" binds one to a student`, a.allowList))
	default:
		parts = append(parts, `open invite: whoever holds the class invite joins under any free name ("invite NAME" binds one to a student)`)
	}
	if a.approve {
		parts = append(parts, `approval: each join waits for "approve NAME" or "deny NAME" ("pending" lists them)`)
	}
	if a.maxPerAddr > 0 {
		parts = append(parts, fmt.Sprintf("at most %d members per address with the class invite", a.maxPerAddr))
	}
	return "admission: " + strings.Join(parts, "; ")
}

// approvals are the joins waiting for the teacher (-approve): Approve is
// Config.Approve, and the console's pending, approve and deny act on them.
type approvals struct {
	out     io.Writer // where a new request is announced
	mu      sync.Mutex
	pending []*request
}

type request struct {
	r      p2pshare.JoinRequest
	at     time.Time
	answer chan verdict // buffered: deciding never blocks
}

type verdict struct {
	ok  bool
	why string
}

// Approve holds r until the teacher decides or ctx ends (the newcomer gave
// up, or the bootstrap's limit passed).
func (a *approvals) Approve(ctx context.Context, r p2pshare.JoinRequest) (bool, string) {
	q := &request{r: r, at: time.Now(), answer: make(chan verdict, 1)}
	a.mu.Lock()
	a.pending = append(a.pending, q)
	a.mu.Unlock()
	fmt.Fprintf(a.out, "seeder: %s asks to join (peer %s, from %s): \"approve %s\" or \"deny %s\"\n", r.Name, r.Peer, r.Addr, r.Name, r.Name)
	select {
	case v := <-q.answer:
		return v.ok, v.why
	case <-ctx.Done():
		if a.take(q) {
			fmt.Fprintf(a.out, "seeder: the join of %s waits no more (it gave up, or waited too long)\n", r.Name)
		}
		select {
		case v := <-q.answer: // decided as it ended
			return v.ok, v.why
		default:
			return false, ""
		}
	}
}

// take removes q from the pending joins, reporting whether it was there.
func (a *approvals) take(q *request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, p := range a.pending {
		if p == q {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			return true
		}
	}
	return false
}

// decide answers every pending join of name (compared without case), or
// every pending join for "all", and returns the names answered.
func (a *approvals) decide(name string, v verdict) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var done []string
	keep := a.pending[:0]
	for _, p := range a.pending {
		if name == "all" || strings.EqualFold(p.r.Name, name) {
			p.answer <- v
			done = append(done, p.r.Name)
			continue
		}
		keep = append(keep, p)
	}
	clear(a.pending[len(keep):])
	a.pending = keep
	return done
}

// list describes the pending joins, oldest first.
func (a *approvals) list(now time.Time) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, p := range a.pending {
		out = append(out, fmt.Sprintf("%s (peer %s, from %s, waiting %v)", p.r.Name, p.r.Peer, p.r.Addr, now.Sub(p.at).Round(time.Second)))
	}
	return out
}
