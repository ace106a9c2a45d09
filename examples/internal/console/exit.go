package console

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/p2pshare/p2pshare/examples/internal/datadir"
	"github.com/p2pshare/p2pshare/p2pshare"
)

// ErrInterrupted is wrapped by a command's error when SIGINT or SIGTERM
// stopped it before it was done.
var ErrInterrupted = errors.New("interrupted")

// Exit is how a command ends on an error a script can act on: its exit
// status, and the name the JSON "error" event gives it.
type Exit struct {
	Code int
	Kind string
	err  error // what the command's error wraps
	doc  string
}

// The exit statuses the example programs share. 0 is done, 1 any other
// failure, 2 bad flags.
var exits = []Exit{
	{3, "bad_invite", p2pshare.ErrBadInvite, "the invite does not parse"},
	{4, "invite_expired", p2pshare.ErrInviteExpired, "the invite expired: ask for a new one"},
	{5, "invite_used_up", p2pshare.ErrInviteUsedUp, "the invite is used up or cancelled: ask for a new one"},
	{6, "name_taken", p2pshare.ErrNameTaken, "the -name is held by another peer (a lost data folder: see the message)"},
	{7, "refused", p2pshare.ErrRefused, "the bootstrap refused to admit this node for another reason, which the message gives"},
	{8, "wrong_network", p2pshare.ErrWrongNetwork, "the invite or the -data folder is of another network"},
	{9, "revoked", p2pshare.ErrRevoked, "this node was revoked from the network"},
	{10, "bad_infohash", p2pshare.ErrBadInfohash, "-infohash is not an infohash"},
	{11, "not_found", p2pshare.ErrNotFound, "no member offered the share within -timeout"},
	{12, "stalled", p2pshare.ErrStalled, "no piece data for -stall-timeout (run again to resume)"},
	{13, "out_exists", fs.ErrExist, "-out already exists"},
	{14, "data_in_use", datadir.ErrInUse, "another run is using the data folder"},
	{15, "mismatch", p2pshare.ErrMismatch, "-check: -out is not the share (the message says how much matched)"},
	{130, "interrupted", ErrInterrupted, "interrupted by SIGINT or SIGTERM before done"},
}

// ExitOf is the exit for err (not nil): the first of the shared exits it
// wraps, or 1, "failed".
func ExitOf(err error) Exit {
	for _, e := range exits {
		if errors.Is(err, e.err) {
			return e
		}
	}
	return Exit{Code: 1, Kind: "failed"}
}

// ExitCodes is the "exit status" part of a command's -h: 0, 1, 2 and the
// shared exits of the given kinds.
func ExitCodes(kinds ...string) string {
	var b strings.Builder
	b.WriteString("exit status:\n  0    done\n  1    failed otherwise\n  2    bad flags\n")
	for _, e := range exits {
		for _, k := range kinds {
			if k == e.Kind {
				fmt.Fprintf(&b, "  %-4d %s: %s\n", e.Code, e.Kind, e.doc)
			}
		}
	}
	return b.String()
}
