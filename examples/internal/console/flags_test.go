package console

import (
	"flag"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // -invite then -log-level after FromEnv
		wantErr string
	}{
		{"nothing", nil, nil, " error", ""},
		{"from the environment", nil, map[string]string{"P2PSHARE_INVITE": "p2pshare://x", "P2PSHARE_LOG_LEVEL": "debug"}, "p2pshare://x debug", ""},
		{"the command line wins", []string{"-invite", "cli"}, map[string]string{"P2PSHARE_INVITE": "env"}, "cli error", ""},
		{"a bad value names its variable", nil, map[string]string{"P2PSHARE_LOG_LEVEL": "loud"}, "", `P2PSHARE_LOG_LEVEL="loud" (for -log-level): log level "loud": want debug, info, warn or error`},
		{"other variables are no flags", nil, map[string]string{"P2PSHARE_NOPE": "1", "INVITE": "x"}, " error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			inv := fs.String("invite", "", "")
			lvl := LogLevelFlag(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := FromEnv(fs, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("FromEnv: %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := *inv + " " + lvl.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := EnvName("stall-timeout"); got != "P2PSHARE_STALL_TIMEOUT" {
		t.Errorf("EnvName(stall-timeout) = %q", got)
	}
	var b strings.Builder
	l := &LogLevel{}
	_ = l.Set("ERROR")
	l.Logger(&b, "t").Info("hidden")
	if b.Len() != 0 {
		t.Errorf("an error-level logger wrote an info line: %q", b.String())
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		s    string
		cols int
		want string
	}{
		{"abcdef", 0, "abcdef"},
		{"abcdef", 6, "abcdef"},
		{"abcdef", 4, "abc…"},
		{"héllo wörld", 5, "héll…"},
	} {
		if got := Fit(tc.s, tc.cols); got != tc.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.s, tc.cols, got, tc.want)
		}
	}
	for _, tc := range []struct{ cols, rest, want int }{{0, 50, 20}, {80, 60, 18}, {200, 60, 30}, {40, 60, 10}} {
		if got := BarWidth(tc.cols, tc.rest); got != tc.want {
			t.Errorf("BarWidth(%d, %d) = %d, want %d", tc.cols, tc.rest, got, tc.want)
		}
	}
}
