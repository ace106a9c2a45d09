package p2pshare

import (
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestReportTargets: a node reports to its bootstrap contacts, then to the
// coordinators it learned, each once, and never to itself.
func TestReportTargets(t *testing.T) {
	self, a, b, c := peer.ID("self"), peer.ID("a"), peer.ID("b"), peer.ID("c")
	ai := func(ids ...peer.ID) []peer.AddrInfo {
		var out []peer.AddrInfo
		for _, id := range ids {
			out = append(out, peer.AddrInfo{ID: id})
		}
		return out
	}
	tests := []struct {
		name    string
		boot    []peer.AddrInfo
		learned []peer.ID
		want    []peer.ID
	}{
		{"a member of a network with no group", ai(a), nil, []peer.ID{a}},
		{"a member that learned the coordinators", ai(a), []peer.ID{a, b, c}, []peer.ID{a, b, c}},
		{"its bootstrap gone from the list", ai(a), []peer.ID{b, c}, []peer.ID{a, b, c}},
		{"a coordinator, listed itself", ai(a), []peer.ID{a, self, b}, []peer.ID{a, b}},
		{"the bootstrap: no contacts", nil, []peer.ID{b, c}, []peer.ID{b, c}},
		{"nobody", nil, nil, nil},
		{"an empty ID", ai(""), []peer.ID{""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reportTargets(self, tt.boot, tt.learned); !slices.Equal(got, tt.want) {
				t.Errorf("reportTargets(%v, %v) = %v, want %v", tt.boot, tt.learned, got, tt.want)
			}
		})
	}
}
