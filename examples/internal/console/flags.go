package console

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// EnvPrefix starts the name of every environment variable that sets a flag.
const EnvPrefix = "P2PSHARE_"

// EnvName is the environment variable that sets the flag name: EnvPrefix
// and the name upper-cased, its dashes underscores (-log-level is
// P2PSHARE_LOG_LEVEL).
func EnvName(name string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// EnvHelp is the part of every command's -h about the environment.
const EnvHelp = `environment:
  every flag may be set by an environment variable instead, P2PSHARE_ and its
  name in capitals, dashes as underscores: P2PSHARE_INVITE for -invite,
  P2PSHARE_LOG_LEVEL for -log-level. A flag on the command line wins. An
  invite in the environment does not show in ps, as one on the command line does.
`

// FromEnv sets each flag of fs that the command line did not set from its
// environment variable (EnvName), if lookup finds one. It names the
// variable and its value when the flag refuses it.
func FromEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("%s=%q (for -%s): %w", EnvName(f.Name), v, f.Name, serr)
		}
	})
	return err
}

// LogLevel is a flag.Value for -log-level: debug, info, warn or error.
type LogLevel struct{ v slog.LevelVar }

// levels are the names -log-level takes, least severe first.
var levels = []struct {
	name  string
	level slog.Level
}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}}

// LogLevelFlag registers -log-level on fs, error by default (as the
// library logs without a logger of its own), and returns it.
func LogLevelFlag(fs *flag.FlagSet) *LogLevel {
	l := &LogLevel{}
	l.v.Set(slog.LevelError)
	fs.Var(l, "log-level", "the least severe `level` of log line written on stderr: debug, info, warn or error")
	return l
}

// String implements flag.Value.
func (l *LogLevel) String() string {
	if l == nil {
		return "error"
	}
	for _, x := range levels {
		if x.level == l.v.Level() {
			return x.name
		}
	}
	return l.v.Level().String()
}

// Set implements flag.Value.
func (l *LogLevel) Set(s string) error {
	for _, x := range levels {
		if strings.EqualFold(strings.TrimSpace(s), x.name) {
			l.v.Set(x.level)
			return nil
		}
	}
	return fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

// Logger is a logger writing text lines on w at l's level and above,
// each naming the command prog.
func (l *LogLevel) Logger(w io.Writer, prog string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: &l.v})).With("cmd", prog)
}
