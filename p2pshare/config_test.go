package p2pshare

import (
	crand "crypto/rand"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
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
		{"bad listen address", Config{ListenAddrs: []string{"not-a-multiaddr"}}, "Config.ListenAddrs"},
		{"identity not Ed25519", Config{Identity: rsaKey(t)}, "Config.Identity"},
		{"new network with an invite", Config{NewNetwork: true, Invite: "p2pshare://x"}, "Config.NewNetwork and Config.Invite"},
		{"new network with bootstrap peers", Config{NewNetwork: true, BootstrapPeers: []string{"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWEqaf3QCoFZByNBFzxub1gtMMt94w7ScSQxC1vpjL7xTi"}}, "Config.NewNetwork and Config.BootstrapPeers"},
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
