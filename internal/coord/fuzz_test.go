package coord

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Every decoder of bytes from the network or disk has a target here. Each
// must never panic, and what it accepts must survive a round trip.

// FuzzDecodeCommand: a log entry or forwarded proposal that decodes
// re-encodes to one that decodes to the same.
func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"op":"appoint","coordinator":{"peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"b","since":"2026-12-07T00:00:00Z"}}`))
	f.Add([]byte(`{"op":"change","change":{"op":"revoke","at":"2026-12-07T00:00:00Z","who":"s1"}}`))
	f.Add([]byte(`{"op":"change","change":{"op":"admit","at":"2026-12-07T00:00:00Z","peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"s1","role":"student","token_id":"00112233445566778899aabbccddeeff","serial":"1f","not_after":"2026-12-08T00:00:00Z"}}`))
	f.Add([]byte(`{"op":"allow_names","names":["s1","s2"]}`))
	f.Add([]byte(`{"op":"allow_names"}`))
	f.Add([]byte(`{"op":"allow_names","lift":true}`))
	f.Add([]byte(`{"op":"allow_name","names":["s3"]}`))
	f.Add([]byte(`{"op":"max_per_address","max":3}`))
	f.Add([]byte(`{"op":"max_per_address"}`))
	f.Add([]byte(`{"op":"import","registry":{"format":1,"members":{},"tokens":{},"revoked":null,"crl_number":0,"allow":{"names":["s1"]}}}`))
	f.Add([]byte(`{"op":"import","registry":{"format":1,"members":{"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz":{"peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"s1","role":"student","serials":["1f"],"not_after":"2026-12-08T00:00:00Z","joined":"2026-12-07T00:00:00Z"}},"tokens":{},"revoked":[],"crl_number":2}}`))
	f.Add([]byte(`{"op":"allow_names","lift":true,"names":["s1"]}`))
	f.Add([]byte(`{"op":"approval","approval":true}`))
	f.Add([]byte(`{"op":"approval","approval":false}`))
	f.Add([]byte(`{"op":"ask","ask":{"id":"00112233445566778899aabbccddeeff","peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"s1","role":"student","addr":"127.0.0.1","via":"ta","until":"2026-12-07T00:02:00Z"}}`))
	f.Add([]byte(`{"op":"answer","answer":{"id":"00112233445566778899aabbccddeeff","ok":true,"by":"teacher"}}`))
	f.Add([]byte(`{"op":"answer","answer":{"id":"00112233445566778899aabbccddeeff","reason":"not in my class","by":"ta"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := decodeCommand(in)
		if err != nil {
			return
		}
		out, err := c.encode()
		if err != nil {
			t.Fatalf("an accepted command does not encode: %v", err)
		}
		again, err := decodeCommand(out)
		if err != nil {
			t.Fatalf("a re-encoded command does not decode: %v\n%s", err, out)
		}
		out2, _ := again.encode()
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the command:\n%s\n%s", out, out2)
		}
	})
}

// FuzzDecodeSnapshot: a snapshot that decodes re-encodes to one that
// decodes the same.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"registry":{"format":1,"members":{},"tokens":{},"revoked":null,"crl_number":0},"coordinators":[{"peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"a","since":"2026-12-07T00:00:00Z"}]}`))
	f.Add([]byte(`{"format":1,"registry":{"format":1,"members":{},"tokens":{},"revoked":null,"crl_number":0},"coordinators":[],"max_per_address":2,"sealed":true,"approval":true}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := decodeSnapshot(in)
		if err != nil {
			return
		}
		out, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("an accepted snapshot does not encode: %v", err)
		}
		if _, err := decodeSnapshot(out); err != nil {
			t.Fatalf("a re-encoded snapshot does not decode: %v\n%s", err, out)
		}
	})
}

// FuzzDecodeReply: the leader's answer holds one outcome.
func FuzzDecodeReply(f *testing.F) {
	f.Add([]byte(`{"refusal":"name \"s1\" is already held by peer x"}`))
	f.Add([]byte(`{"result":{"member":{"peer":"12D3KooWLRPJAA5o6Z6ZrTQAGXvTxqGmMUoVGsnm3yZCGGfHhbcz","name":"s1","role":"student","serials":["1f"],"not_after":"2026-12-08T00:00:00Z","joined":"2026-12-07T00:00:00Z"}}}`))
	f.Add([]byte(`{"error":"x","no_quorum":true}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := decodeReply(in)
		if err != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("an accepted reply does not encode: %v", err)
		}
		if _, err := decodeReply(out); err != nil {
			t.Fatalf("a re-encoded reply does not decode: %v\n%s", err, out)
		}
	})
}
