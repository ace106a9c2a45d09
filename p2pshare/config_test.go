package p2pshare

import (
	crand "crypto/rand"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// TestConfigValidateOnLiteral: Validate works on a Config literal (a value
// receiver) and names the field that is wrong.
func TestConfigValidateOnLiteral(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative upload", Config{UploadLimit: -1}, "Config.UploadLimit"},
		{"empty listen address", Config{ListenAddrs: []ma.Multiaddr{nil}}, "Config.ListenAddrs[0] is empty"},
		{"bootstrap peer with no ID", Config{BootstrapPeers: []peer.AddrInfo{{Addrs: loopback()}}}, "Config.BootstrapPeers[0] [/ip4/127.0.0.1/tcp/0] has no peer ID"},
		{"bootstrap peer with no address", Config{BootstrapPeers: []peer.AddrInfo{{ID: testPeer}}}, "Config.BootstrapPeers[0] (peer " + testPeer.String() + ") has no address"},
		{"identity not Ed25519", Config{Identity: rsaKey(t)}, "Config.Identity"},
		{"new network with an invite", Config{NewNetwork: true, Invite: "p2pshare://x"}, "Config.NewNetwork and Config.Invite"},
		{"new network with bootstrap peers", Config{NewNetwork: true, BootstrapPeers: []peer.AddrInfo{{ID: testPeer, Addrs: loopback()}}}, "Config.NewNetwork and Config.BootstrapPeers"},
		{"a new network's bootstrap asking to be a coordinator", Config{NewNetwork: true, Coordinator: true}, "Config.Coordinator and Config.NewNetwork"},
		{"a newcomer appointing coordinators", Config{Invite: "p2pshare://x", Coordinators: []string{"ta"}}, "Config.Coordinators and Config.Invite"},
		{"negative join timeout", Config{JoinTimeout: -1}, "Config.JoinTimeout"},
		{"negative cap per address", Config{MaxPerAddress: -1}, "Config.MaxPerAddress"},
		{"look-alike allowed name", Config{AllowNames: []string{"s1234", "ſ1234"}}, "Config.AllowNames[1]: name \"ſ1234\": character 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate: %v, want an error naming %s", err, c.want)
			}
		})
	}
}

func rsaKey(t *testing.T) crypto.PrivKey {
	k, _, err := crypto.GenerateRSAKeyPair(2048, crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testPeer is a valid peer ID of no node.
const testPeer = peer.ID("\x00\x24\x08\x01\x12\x20" + "0123456789abcdef0123456789abcdef")
