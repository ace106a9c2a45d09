// Command message sends and reads private messages between the members of a
// p2pshare network, from a shell.
//
//	message -invite STRING|@FILE [-data DIR] [-name NAME] send TO TEXT...
//	message [-data DIR] read [-wait DUR] [-count N]
//
// The first run joins the network with the invite the bootstrap printed
// and keeps the membership in a data folder; later runs need no invite.
// By default the folder is one per network under the user's configuration
// folder (os.UserConfigDir()/p2pshare/message/<network>, the network told
// by the invite, or the only one there without -invite); -data names
// another. send
// prints one JSON line, the receipt:
//
//	{"id":…,"to":…,"direct":true|false,"parked":N}
//
// "direct" is true when the recipient was online and took the message;
// otherwise it was parked on "parked" members near the recipient's inbox,
// where the recipient collects it when it next runs, even if the sender
// has left by then. read prints one JSON line per message, oldest first:
//
//	{"id":…,"from":…,"name":…,"sent":…,"body":…}
//
// until -count messages arrived or -wait passed. Each message is
// acknowledged once its line is printed, and is then never read again; a
// message not printed (the run ended first) waits for the next read.
// -count 0 reads none: the run joins (with -invite, the first time) and
// leaves at once, and every message waits for a later read. On failure it
// prints one line, "message: <reason>", on stderr and exits non-zero.
//
// Every flag may come from the environment instead, P2PSHARE_ and its name
// in capitals (P2PSHARE_INVITE for -invite): an invite there does not show
// in ps. The command line wins. A first Ctrl-C stops cleanly, saying so; a
// second quits at once. Log lines go to stderr at -log-level and above
// (error by default).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/p2pshare/p2pshare/examples/internal/console"
	"github.com/p2pshare/p2pshare/examples/internal/datadir"
	"github.com/p2pshare/p2pshare/examples/internal/flagx"
	"github.com/p2pshare/p2pshare/p2pshare"
)

const usage = `usage: message -invite STRING|@FILE [-data DIR] [-name NAME] [-listen MULTIADDR] [-log-level LEVEL] send TO TEXT...
       message [-data DIR] [-log-level LEVEL] read [-wait DUR] [-count N]`

type options struct {
	invite, name, data string
	listen             flagx.Multiaddr
	bootstrap          flagx.Peers
	wait               time.Duration
	count              int
	cmd                string
	args               []string
	logLevel           *console.LogLevel
}

func main() {
	ctx, stop := console.Interrupts("message", os.Stderr, os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout io.Writer, stderr *os.File) int {
	fs := flag.NewFlagSet("message", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.invite, "invite", "", "the invite the network's bootstrap printed (`STRING`, or @FILE); needed on the first run only")
	fs.StringVar(&o.name, "name", "", "member `name` to ask for on joining; empty is one made from the peer ID")
	fs.StringVar(&o.data, "data", "", "`folder` keeping this member's identity and membership (default: one per network in "+datadir.Where("message")+")")
	o.listen.Addr = ma.StringCast("/ip4/0.0.0.0/tcp/0")
	fs.Var(&o.listen, "listen", "`multiaddr` to listen on")
	fs.Var(&o.bootstrap, "bootstrap", "further members to reach the network through, a `multiaddr` ending in /p2p/<peer ID>")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "read: how long to wait for messages")
	fs.IntVar(&o.count, "count", 1, "read: stop after this many messages; 0 reads none (a run that just joins), and what waits stays for a later read")
	o.logLevel = console.LogLevelFlag(fs)
	return console.Main(fs, args, stderr, usage,
		console.ExitCodes("bad_invite", "invite_expired", "invite_used_up", "name_taken", "refused", "wrong_network", "revoked", "data_in_use"),
		func() error { return o.check(fs) },
		func() error { return o.do(ctx, stdout, stderr) })
}

func (o *options) check(fs *flag.FlagSet) error {
	rest := fs.Args()
	if len(rest) == 0 {
		return errors.New("say send or read")
	}
	// Flags may follow the command too: read -wait 10s.
	o.cmd = rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return err
	}
	o.args = fs.Args()
	switch {
	case o.cmd == "send" && len(o.args) < 2:
		return errors.New("send needs a recipient (name or peer ID) and the text")
	case o.cmd == "read" && len(o.args) > 0:
		return fmt.Errorf("read takes no arguments, got %q", o.args)
	case o.cmd != "send" && o.cmd != "read":
		return fmt.Errorf("unknown command %q: say send or read", o.cmd)
	case o.count < 0 || o.wait < 0:
		return errors.New("-count and -wait must not be negative")
	}
	inv, err := flagx.ReadArg(o.invite)
	if err != nil {
		return err
	}
	o.invite = inv
	return nil
}

func (o *options) do(ctx context.Context, stdout, stderr io.Writer) error {
	dir := o.data
	if dir == "" {
		var err error
		if dir, err = defaultDir(o.invite); err != nil {
			return err
		}
	}
	unlock, err := datadir.Lock(dir)
	if err != nil {
		return fmt.Errorf("-data: %w", err)
	}
	defer unlock()
	s, err := p2pshare.New(ctx, p2pshare.Config{
		DataDir: dir, ListenAddrs: []ma.Multiaddr{o.listen.Addr}, Invite: o.invite, Name: o.name, BootstrapPeers: o.bootstrap,
		Logger: o.logLevel.Logger(stderr, "message"),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	enc := json.NewEncoder(stdout)
	if o.cmd == "send" {
		r, err := s.Send(ctx, o.args[0], []byte(strings.Join(o.args[1:], " ")))
		if err != nil {
			return err
		}
		return enc.Encode(map[string]any{"id": r.ID, "to": r.To.String(), "direct": r.Direct, "parked": r.Parked})
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	for got := 0; got < o.count; got++ {
		select {
		case m := <-s.Messages():
			if err := enc.Encode(map[string]any{"id": m.ID, "from": m.From.String(), "name": m.FromName, "sent": m.Sent.UTC().Format(time.RFC3339Nano), "body": string(m.Body)}); err != nil {
				return err // not acknowledged: the next read shows it
			}
			if err := m.Ack(); err != nil {
				return err
			}
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return fmt.Errorf("%d of %d messages within %v", got, o.count, o.wait)
		}
	}
	return nil
}

// defaultDir is the member's folder for the invite's network, or without
// one the only network folder it has.
func defaultDir(invite string) (string, error) {
	if invite == "" {
		return datadir.Only("message")
	}
	inv, err := p2pshare.ParseInvite(invite)
	if err != nil {
		return "", fmt.Errorf("-invite: %w", err)
	}
	return datadir.ForNetwork("message", inv.Network)
}
