package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// teacher is what the bootstrap's console acts on.
type teacher struct {
	sw        *p2pshare.Swarm
	allowFile string     // -allow-names; "" without it
	pending   *approvals // nil without -approve
}

const help = "revoke NAME [cancel-invite], lift NAME, invite [USES [TTL]], invite NAME [TTL], invite cancel INVITE, allow NAME, allow reload, pending, approve NAME|all, deny NAME [REASON], appoint NAME, root export FILE"

// commands reads the bootstrap's console: one command a line on stdin (see
// the package comment).
func commands(ctx context.Context, t *teacher, in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	for sc.Scan() && ctx.Err() == nil {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if !t.names(f, out) && !t.members(f, out) {
			fmt.Fprintf(out, "seeder: unknown command %q (try: %s)\n", sc.Text(), help)
		}
	}
}

// members runs the commands on members and invites; it reports whether f
// was one.
func (t *teacher) members(f []string, out io.Writer) bool {
	sw := t.sw
	switch {
	case f[0] == "revoke" && (len(f) == 2 || len(f) == 3 && f[2] == "cancel-invite"):
		o := p2pshare.RevokeOptions{CancelInvite: len(f) == 3}
		if err := sw.RevokeWith(f[1], o); err != nil {
			fmt.Fprintf(out, "seeder: revoke %s: %s\n", f[1], console.Line(err))
			return true
		}
		also := ""
		if o.CancelInvite {
			also = "; the invite that admitted it is cancelled"
		}
		fmt.Fprintf(out, "seeder: revoked %s; its name and peer stay refused until \"lift %s\"%s\n", f[1], f[1], also)
	case f[0] == "appoint" && len(f) == 2:
		if err := sw.Appoint(f[1]); err != nil {
			fmt.Fprintf(out, "seeder: appoint %s: %s\n", f[1], console.Line(err))
			return true
		}
		fmt.Fprintf(out, "seeder: %s becomes a coordinator when it asks (seeder -invite … -coordinator)\n", f[1])
	case f[0] == "root" && len(f) == 3 && f[1] == "export":
		if err := sw.ExportRootKey(f[2]); err != nil {
			fmt.Fprintf(out, "seeder: root export: %s\n", console.Line(err))
			return true
		}
		fmt.Fprintf(out, "seeder: the root key is in %s and no longer in the data folder: keep it offline, and start the bootstrap with -root-key %s before the coordinator certificates end (in 7 days) to renew them\n", f[2], f[2])
	case f[0] == "lift" && len(f) == 2:
		if err := sw.Lift(f[1]); err != nil {
			fmt.Fprintf(out, "seeder: lift %s: %s\n", f[1], console.Line(err))
			return true
		}
		fmt.Fprintf(out, "seeder: lifted the revocation of %s; it may join again with an invite\n", f[1])
	case f[0] == "invite" && len(f) == 3 && f[1] == "cancel":
		if err := sw.CancelInvite(f[2]); err != nil {
			fmt.Fprintf(out, "seeder: invite cancel: %s\n", console.Line(err))
			return true
		}
		fmt.Fprintln(out, "seeder: invite cancelled; nobody joins with it any more")
	case f[0] == "invite" && len(f) <= 3:
		o, err := inviteArgs(f[1:])
		var inv string
		if err == nil {
			inv, err = sw.Invite(o)
		}
		if err != nil {
			fmt.Fprintf(out, "seeder: invite: %s\n", console.Line(err))
			return true
		}
		fmt.Fprintln(out, inv)
	default:
		return false
	}
	return true
}

// inviteArgs reads "invite"'s arguments: [USES [TTL]], or NAME [TTL] for
// an invite bound to one student.
func inviteArgs(args []string) (p2pshare.InviteOptions, error) {
	o := p2pshare.InviteOptions{Uses: 1, TTL: 24 * time.Hour}
	var err error
	if len(args) > 0 {
		if o.Uses, err = strconv.Atoi(args[0]); err != nil {
			o.Uses, o.Name, err = 1, args[0], nil
		}
	}
	if len(args) > 1 {
		if o.TTL, err = time.ParseDuration(args[1]); err != nil {
			return o, fmt.Errorf("TTL %q: want a duration such as 2h", args[1])
		}
	}
	return o, nil
}

// names runs the commands on the allow-list and on joins waiting for
// approval; it reports whether f was one.
func (t *teacher) names(f []string, out io.Writer) bool {
	switch {
	case f[0] == "allow" && len(f) == 2 && f[1] == "reload":
		if t.allowFile == "" {
			fmt.Fprintln(out, "seeder: allow reload: there is no -allow-names file to read")
			return true
		}
		names, err := readAllowNames(t.allowFile)
		if err == nil {
			err = t.sw.SetAllowNames(names)
		}
		if err != nil {
			fmt.Fprintf(out, "seeder: allow reload: %s; the list in force is unchanged\n", console.Line(err))
			return true
		}
		fmt.Fprintf(out, "seeder: allow reload: %d names from %s are the list now\n", len(names), t.allowFile)
	case f[0] == "allow" && len(f) == 2:
		if err := t.sw.AllowName(f[1]); err != nil {
			fmt.Fprintf(out, "seeder: allow %s: %s\n", f[1], console.Line(err))
			return true
		}
		if t.allowFile != "" {
			if err := appendAllowName(t.allowFile, f[1]); err != nil {
				fmt.Fprintf(out, "seeder: allowed %s, but could not add it to %s (%v): the network keeps it, the file does not\n", f[1], t.allowFile, err)
				return true
			}
		}
		fmt.Fprintf(out, "seeder: allowed %s: the class invite admits it from now on\n", f[1])
	case f[0] == "pending" && len(f) == 1:
		if t.pending == nil {
			fmt.Fprintln(out, "seeder: pending: approval is off (start with -approve)")
			return true
		}
		l := t.pending.list(time.Now())
		if len(l) == 0 {
			fmt.Fprintln(out, "seeder: pending: no join waits for approval")
			return true
		}
		fmt.Fprintf(out, "seeder: pending: %s\n", strings.Join(l, "; "))
	case (f[0] == "approve" && len(f) == 2) || (f[0] == "deny" && len(f) >= 2):
		if t.pending == nil {
			fmt.Fprintf(out, "seeder: %s: approval is off (start with -approve)\n", f[0])
			return true
		}
		v := verdict{ok: f[0] == "approve"}
		if !v.ok {
			if v.why = strings.Join(f[2:], " "); v.why == "" {
				v.why = "the teacher denied it"
			}
		}
		done := t.pending.decide(f[1], v)
		if len(done) == 0 {
			fmt.Fprintf(out, "seeder: %s %s: no join of %q waits for approval (\"pending\" lists them)\n", f[0], f[1], f[1])
			return true
		}
		word := map[bool]string{true: "approved", false: "denied"}[v.ok]
		fmt.Fprintf(out, "seeder: %s %s\n", word, strings.Join(done, ", "))
	default:
		return false
	}
	return true
}
