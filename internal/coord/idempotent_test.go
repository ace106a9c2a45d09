package coord

import (
	"testing"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// TestIdempotent: which proposals are made again when a lost leader left
// their outcome uncertain. A new token is (the registry takes the same
// token twice as once), so an invite asked for as the leader dies is
// printed, not refused as "may or may not have been committed".
func TestIdempotent(t *testing.T) {
	change := func(o membership.ChangeOp) command {
		return command{Op: opChange, Change: &membership.Change{Op: o}}
	}
	for _, c := range []struct {
		what string
		cmd  command
		want bool
	}{
		{"admit", change(membership.OpAdmit), true},
		{"renew", change(membership.OpRenew), true},
		{"enroll", change(membership.OpEnroll), true},
		{"a new token", change(membership.OpAddToken), true},
		{"revoke", change(membership.OpRevoke), false},
		{"lift", change(membership.OpLift), false},
		{"cancel a token", change(membership.OpCancelToken), false},
		{"a name added to the list", command{Op: opAllowName}, false},
		{"import", command{Op: opImport}, false},
		{"appoint", command{Op: opAppoint}, true},
	} {
		if got := idempotent(c.cmd); got != c.want {
			t.Errorf("%s: idempotent %v, want %v", c.what, got, c.want)
		}
	}
}
