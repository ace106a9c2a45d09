package p2pshare

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/p2pshare/p2pshare/internal/message"
)

// spoolDir, in DataDir, keeps the sealed messages that senders handed to
// this node directly and the program has not acknowledged yet, one file
// each, named by the message ID: such a sender was told the message
// arrived and keeps no copy, so the node keeps one until the program
// acknowledges it, across restarts. (A parked message needs none: its
// holders keep it until then.)
const spoolDir = "messages-unread"

// spool is that folder; with no DataDir it keeps nothing, as the node's
// identity is not kept either.
type spool struct{ dir string }

func openSpool(dataDir string) (*spool, error) {
	if dataDir == "" {
		return &spool{}, nil
	}
	dir := filepath.Join(dataDir, spoolDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("p2pshare: %w", err)
	}
	return &spool{dir: dir}, nil
}

// put keeps sealed as message id, durably before it returns.
func (s *spool) put(id message.ID, sealed []byte) error {
	if s.dir == "" {
		return nil
	}
	path := filepath.Join(s.dir, id.String())
	tmp := path + ".tmp"
	if err := writeSynced(tmp, sealed); err != nil {
		return fmt.Errorf("p2pshare: keeping an unread message: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("p2pshare: keeping an unread message: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// remove forgets the message kept as name.
func (s *spool) remove(name string) {
	if s.dir == "" {
		return
	}
	// A file left (a failed remove) is harmless: at the next start the
	// message is found acknowledged and removed then.
	_ = os.Remove(filepath.Join(s.dir, name))
}

// load returns the kept messages by name, and removes what a crash left
// half written, what is too large to be a message, and what was kept
// longer than maxAge (its copies have expired everywhere else too).
func (s *spool) load(now time.Time, maxAge time.Duration) map[string][]byte {
	out := map[string][]byte{}
	if s.dir == "" {
		return out
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		path := filepath.Join(s.dir, e.Name())
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasSuffix(e.Name(), ".tmp") || info.Size() > int64(message.MaxSealed) || now.Sub(info.ModTime()) > maxAge {
			_ = os.Remove(path)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		out[e.Name()] = b
	}
	return out
}

// syncDir makes a rename in dir durable where the system allows (not on
// Windows, which cannot open a folder to sync it; its renames are).
func syncDir(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = f.Sync()
	_ = f.Close()
}
