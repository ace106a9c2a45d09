package p2pshare

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNewNetworkIsExplicit: a node with no invite and no membership in
// its DataDir is refused with an error that says what to set, instead of
// quietly starting a network of its own; Config.NewNetwork starts one,
// and a DataDir that already holds a membership goes on with it, whether
// NewNetwork is set or not.
func TestNewNetworkIsExplicit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loop := loopback()
	for name, cfg := range map[string]Config{
		"no DataDir":    {ListenAddrs: loop},
		"empty DataDir": {ListenAddrs: loop, DataDir: t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := New(ctx, cfg)
			if err == nil {
				s.Close()
				t.Fatalf("New with no invite and no NewNetwork started a node (bootstrap %v)", s.IsBootstrap())
			}
			for _, want := range []string{"Config.Invite", "Config.NewNetwork", "no network to start or join"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		})
	}

	bootDir, memberDir := t.TempDir(), t.TempDir()
	boot, err := New(ctx, Config{ListenAddrs: loop, DataDir: bootDir, NewNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()
	if !boot.IsBootstrap() {
		t.Fatal("Config.NewNetwork started a member")
	}
	member := testNode(t, boot, func(c *Config) { c.DataDir = memberDir })
	memberID := member.ID()
	member.Close()
	// The same Config as the bootstrap's first start, on the member's
	// DataDir: it goes on as that member, through the contacts it kept.
	again, err := New(ctx, Config{ListenAddrs: loop, DataDir: memberDir, NewNetwork: true})
	if err != nil {
		t.Fatalf("NewNetwork on a member's DataDir: %v", err)
	}
	defer again.Close()
	if again.IsBootstrap() || again.ID() != memberID {
		t.Fatalf("NewNetwork on a member's DataDir: bootstrap %v, ID %s, want member %s", again.IsBootstrap(), again.ID(), memberID)
	}
}
