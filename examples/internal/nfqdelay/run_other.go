//go:build !linux

package nfqdelay

import (
	"context"
	"fmt"
	"runtime"
)

// Run needs Linux's NFQUEUE; elsewhere it fails.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	return Stats{}, fmt.Errorf("nfqdelay: NFQUEUE needs Linux; this is %s", runtime.GOOS)
}
