// Package datadir finds the folder an example program keeps a node's
// identity and membership in when -data does not name one: a folder per
// network (or, for a network's bootstrap, per shared file) under the
// user's configuration folder, so that running the same command again
// resumes as the same member, and two networks or two shares never mix.
// A program holds its folder's lock while it runs: two runs on one folder
// would be one peer twice.
package datadir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrInUse is wrapped by Lock's error when another run holds the folder.
var ErrInUse = errors.New("data folder in use")

// Root is the folder under which programs keep their default folders:
// p2pshare in the user's configuration folder (os.UserConfigDir:
// $XDG_CONFIG_HOME or ~/.config on Linux, ~/Library/Application Support
// on macOS, %AppData% on Windows).
func Root() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no per-user folder to keep the membership in (%v): give -data", err)
	}
	return filepath.Join(d, "p2pshare"), nil
}

// Where describes program's default folders for -h: "<root>/<program>/",
// or how Root fails.
func Where(program string) string {
	r, err := Root()
	if err != nil {
		return err.Error()
	}
	return filepath.Join(r, program) + string(filepath.Separator)
}

// ForNetwork is program's default folder for the network named network
// (p2pshare.InviteInfo.Network): <root>/<program>/<first 16 hex digits>.
func ForNetwork(program, network string) (string, error) {
	r, err := Root()
	if err != nil {
		return "", err
	}
	if len(network) < 16 {
		return "", fmt.Errorf("network ID %q is too short", network)
	}
	return filepath.Join(r, program, network[:16]), nil
}

// ForFile is program's default folder for the network it starts itself
// to share file: <root>/<program>/<file's name>-<hash of its absolute
// path>, so sharing the same file again starts the same network again.
func ForFile(program, file string) (string, error) {
	r, err := Root()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(r, program, safeName(filepath.Base(abs))+"-"+hex.EncodeToString(sum[:6])), nil
}

// Only is program's one default folder, for a run given no invite to tell
// the network by: an error if it has none or several.
func Only(program string) (string, error) {
	r, err := Root()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r, program)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no earlier membership in %s: give -invite to join", dir)
	case 1:
		return filepath.Join(dir, found[0]), nil
	}
	return "", fmt.Errorf("%s holds the memberships of %d networks (%s): give -invite to say which, or -data", dir, len(found), strings.Join(found, ", "))
}

// safeName keeps s's letters, digits, dots, dashes and underscores, cut
// to 40 bytes, for a folder name.
func safeName(s string) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' {
			out = append(out, c)
		}
		if len(out) == 40 {
			break
		}
	}
	if len(out) == 0 || out[0] == '.' {
		return "share" + string(out)
	}
	return string(out)
}

// Lock makes dir if need be and takes its lock for this process, until
// unlock is called or the process ends (a crash leaves no stale lock).
// Another run holding it makes the error wrap ErrInUse.
func Lock(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: another run is using %s", ErrInUse, dir)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
