package p2pshare

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/internal/membership"
)

// lockedLog collects a node's log lines.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStaleCRLSaidAndRefreshed: a member holds the class's revocation
// list; its clock passes the list's NextUpdate with no refresh about (the
// bootstrap has not signed one): the member says the list is stale, asks
// the DHT, and says it is still stale. Once the bootstrap, a week on,
// signs the list again, the member takes the refresh and says nothing.
func TestStaleCRLSaidAndRefreshed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bootClock, memberClock := &testClock{}, &testClock{}
	boot := testNode(t, nil, func(c *Config) { c.Name = "teacher"; c.now = bootClock.now })
	logs := &lockedLog{}
	ana := testNode(t, boot, func(c *Config) {
		c.Name = "ana"
		c.now = memberClock.now
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	testNode(t, boot, func(c *Config) { c.Name = "x" })
	if err := boot.Revoke("x"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "ana to hold the revocation list", func() bool { return ana.net.m.CRLNumber() == 1 })

	ana.keepCRLCurrent(ctx)
	if strings.Contains(logs.String(), "stale") {
		t.Fatalf("a current list was called stale:\n%s", logs)
	}
	memberClock.advance(membership.CRLValidity + time.Hour)
	ana.keepCRLCurrent(ctx)
	for _, says := range []string{"the revocation list is stale", "still stale"} {
		if !strings.Contains(logs.String(), says) {
			t.Errorf("ana's log does not say %q:\n%s", says, logs)
		}
	}

	bootClock.advance(membership.CRLValidity/2 + time.Hour)
	boot.keepCRLCurrent(ctx)
	waitUntil(t, 20*time.Second, "ana to take the bootstrap's refresh", func() bool {
		_, stale := ana.net.m.CRLStale(memberClock.now())
		return !stale
	})
	before := logs.String()
	ana.keepCRLCurrent(ctx)
	if after := logs.String(); after != before {
		t.Errorf("ana still calls the refreshed list stale:\n%s", strings.TrimPrefix(after, before))
	}
}
