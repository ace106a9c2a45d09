package storage

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// syncDir fsyncs the folder dir so that renames and creations inside it are
// durable. Windows cannot open a folder for syncing and makes renames durable
// by itself, so there it does nothing; file systems that refuse to sync a
// folder (EINVAL, ENOTSUP and the like) are tolerated.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: opening folder %s to sync: %w", dir, err)
	}
	err = d.Sync()
	d.Close()
	if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("storage: syncing folder %s: %w", dir, err)
	}
	return nil
}
