package p2pshare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// renewExpired runs when a member starts with a certificate that expired
// (a laptop closed for the summer): it asks the bootstrap, at each contact
// in turn, for a fresh one, which it gives within membership.RenewGrace of
// the expiry and to a member not revoked, under the member's name and with
// no invite. Failing that, a member given an invite joins again with it,
// under the name it had unless Config.Name says otherwise. The credentials
// it returns are saved in memDir; admitted says whether they come from an
// invite.
func renewExpired(ctx context.Context, cfg *Config, log *slog.Logger, h host.Host, memDir string, creds membership.Credentials, own *membership.MemberCert, inv *membership.Invite) (_ membership.Credentials, admitted bool, _ error) {
	now := cfg.clock()
	contacts := loadContacts(filepath.Join(memDir, contactsName))
	if inv != nil {
		contacts = append(contacts, inv.Bootstrap)
	}
	var errs []error
	for _, ai := range contacts {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		next, err := membership.Renew(rctx, h, ai, creds, now)
		cancel()
		if err == nil {
			if err := membership.SaveCredentials(memDir, next); err != nil {
				return creds, false, fmt.Errorf("p2pshare: saving the renewed member certificate: %w", err)
			}
			return next, false, nil
		}
		errs = append(errs, fmt.Errorf("bootstrap %s: %w", ai.ID, err))
	}
	if len(contacts) == 0 {
		errs = append(errs, errors.New("no bootstrap address is kept in Config.DataDir"))
	}
	if inv == nil {
		return creds, false, fmt.Errorf("p2pshare: this node's member certificate (%q) expired at %s and was not renewed: %w; join again with an invite (Config.Invite)",
			own.Name, own.NotAfter.UTC().Format(time.RFC3339), errors.Join(errs...))
	}
	name := cfg.Name
	if name == "" {
		name = own.Name
	}
	next, err := join(ctx, cfg, log, h, *inv, name)
	if err != nil {
		return creds, false, fmt.Errorf("p2pshare: this node's member certificate (%q) expired at %s, was not renewed (%v), and joining again with the invite failed: %w",
			own.Name, own.NotAfter.UTC().Format(time.RFC3339), errors.Join(errs...), err)
	}
	if err := membership.SaveCredentials(memDir, next); err != nil {
		return creds, false, fmt.Errorf("p2pshare: saving the member certificate: %w", err)
	}
	saveContacts(filepath.Join(memDir, contactsName), inv.Bootstrap)
	return next, true, nil
}

// expiredOwn returns this node's certificate in creds if it has expired at
// now.
func expiredOwn(creds membership.Credentials, now time.Time) *membership.MemberCert {
	mc, err := membership.ParseMemberCert(creds.Cert)
	if err != nil || now.Before(mc.NotAfter) {
		return nil
	}
	return mc
}
