package p2pshare

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	logging "github.com/ipfs/go-log/v2"
)

// TestLogsSayWhatTheErrorWas logs errors through the node's default
// logger, into a file by go-log, and reads their messages back: a log
// line that says a dial failed must say why.
func TestLogsSayWhatTheErrorWas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.log")
	old := logging.GetConfig()
	cfg := old
	cfg.Stderr, cfg.Stdout, cfg.File = false, false, path
	cfg.Format = logging.JSONOutput
	cfg.SubsystemLevels = map[string]logging.LogLevel{"p2pshare": logging.LevelDebug}
	logging.SetupLogging(cfg)
	t.Cleanup(func() { logging.SetupLogging(old) })

	log := defaultLogger()
	log.Debug("connecting to exchanged peer", "err", fmt.Errorf("failed to dial: %w", io.ErrUnexpectedEOF))
	log.With("cause", errors.New("the disk is full")).Warn("closing storage",
		slog.Group("sync", "err", errors.New("input/output error")))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failed to dial: unexpected EOF", "the disk is full", "input/output error"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the log lacks %q:\n%s", want, b)
		}
	}
}
