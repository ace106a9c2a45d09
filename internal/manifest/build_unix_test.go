//go:build linux || darwin

package manifest

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBuildRefusesSpecialFiles: a pipe would block Build forever and has no
// size to share, whether it is inside the folder or is the path itself.
func TestBuildRefusesSpecialFiles(t *testing.T) {
	for name, rel := range map[string]string{"inside": "sub/pipe", "root": ""} {
		t.Run(name, func(t *testing.T) {
			root := writeTree(t, map[string]int{"sub/": 0})
			fifo := filepath.Join(root, "sub", "pipe")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			path := root
			if rel == "" {
				path = fifo
			}
			m, err := Build(context.Background(), path, BuildOptions{})
			if m != nil || !errors.Is(err, ErrUnsupportedFile) || !strings.Contains(err.Error(), "pipe") {
				t.Fatalf("Build = %v, %v; want ErrUnsupportedFile naming the pipe", m, err)
			}
		})
	}
}
