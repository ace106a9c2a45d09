package flagx

import (
	"flag"
	"io"
	"strings"
	"testing"
)

const (
	peerA = "12D3KooWEqaf3QCoFZByNBFzxub1gtMMt94w7ScSQxC1vpjL7xTi"
	peerB = "12D3KooWFzDj6UbLJ1M8D5RfvUkqTNrs1snewp6zA3eH9K5BM2S6"
)

// TestPeers: -bootstrap values become peers, addresses of one peer
// merged, and a value that is no multiaddr or lacks /p2p/<peer ID> is
// refused, quoted.
func TestPeers(t *testing.T) {
	a1, a2, b := "/ip4/10.0.0.1/tcp/4001/p2p/"+peerA, "/ip6/::1/tcp/4001/p2p/"+peerA, "/ip4/10.0.0.2/tcp/4001/p2p/"+peerB
	tests := []struct {
		name    string
		args    []string
		want    string // the peers' ID and address count, or the error's text
		wantErr bool
	}{
		{name: "none", want: ""},
		{name: "one", args: []string{"-x", a1}, want: peerA + ":1"},
		{name: "merged across uses and commas", args: []string{"-x", a1 + ", " + b, "-x", a2}, want: peerA + ":2 " + peerB + ":1"},
		{name: "no peer ID", args: []string{"-x", "/ip4/10.0.0.1/tcp/4001"}, want: `"/ip4/10.0.0.1/tcp/4001" does not end in /p2p/<peer ID>`, wantErr: true},
		{name: "not a multiaddr", args: []string{"-x", "10.0.0.1:4001"}, want: `"10.0.0.1:4001" is not a multiaddr`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var got Peers
			fs.Var(&got, "x", "")
			err := fs.Parse(tt.args)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, ai := range got {
				s = append(s, ai.ID.String()+":"+string(rune('0'+len(ai.Addrs))))
			}
			if strings.Join(s, " ") != tt.want {
				t.Fatalf("got %v, want %s", s, tt.want)
			}
			if len(got) > 0 && !strings.Contains(got.String(), "/p2p/"+peerA) {
				t.Fatalf("String %q does not print the addresses back", got.String())
			}
		})
	}
}

// TestMultiaddr: -listen parses when set and prints as given; a value that
// is no multiaddr is refused.
func TestMultiaddr(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var m Multiaddr
	fs.Var(&m, "listen", "")
	if err := fs.Parse([]string{"-listen", "/ip4/127.0.0.1/tcp/4001"}); err != nil || m.String() != "/ip4/127.0.0.1/tcp/4001" {
		t.Fatalf("parsed %q, %v", m.String(), err)
	}
	if err := fs.Parse([]string{"-listen", "127.0.0.1:4001"}); err == nil || !strings.Contains(err.Error(), "not a multiaddr") {
		t.Fatalf("a host:port: %v, want an error saying it is not a multiaddr", err)
	}
}
