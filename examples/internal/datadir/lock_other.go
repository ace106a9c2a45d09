//go:build !unix && !windows

package datadir

import (
	"errors"
	"os"
)

// errLocked is never returned where files cannot be locked: two runs on
// one folder go unnoticed there.
var errLocked = errors.New("locked")

func lockFile(*os.File) error { return nil }
