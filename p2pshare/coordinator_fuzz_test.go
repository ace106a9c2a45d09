package p2pshare

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeAppointMsg: an appointment message that decodes re-encodes to
// one that decodes.
func FuzzDecodeAppointMsg(f *testing.F) {
	f.Add([]byte(`{"step":"ask"}`))
	f.Add([]byte(`{"coordinators":[{"id":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","addrs":["/ip4/127.0.0.1/tcp/4001"]}]}`))
	f.Add([]byte(`{"refusal":"not named"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeAppointMsg(in)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("an accepted message does not encode: %v", err)
		}
		if _, err := decodeAppointMsg(out); err != nil {
			t.Fatalf("a re-encoded message does not decode: %v\n%s", err, out)
		}
	})
}
