package membership

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestRegistryApplyDecidesAsTheBootstrap: changes applied in turn to an
// in-memory registry are decided as the bootstrap's own calls decide them
// (a name held once, a token's uses counted, a revoked name reserved until
// lifted), a refusal changes nothing, and the state restored from
// MarshalState is the same state.
func TestRegistryApplyDecidesAsTheBootstrap(t *testing.T) {
	r := NewMemoryRegistry()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	tok := TokenRecord{ID: strings.Repeat("ab", 16), Secret: bytes.Repeat([]byte{7}, 32), Role: RoleStudent, Uses: 2, UsesLeft: 2,
		Expires: t0.Add(time.Hour), Created: t0}
	other := tok
	other.Secret = bytes.Repeat([]byte{8}, 32)
	bound := tok // a per-student invite
	bound.ID, bound.Name, bound.Uses, bound.UsesLeft = strings.Repeat("cd", 16), "S1", 1, 1
	p1, p2, p3 := randomPeer(t), randomPeer(t), randomPeer(t)
	steps := []struct {
		what    string
		c       Change
		refusal string // "" applied, else a piece of the refusal
	}{
		{"a token", Change{Op: OpAddToken, At: t0, Token: &tok}, ""},
		{"another token under the same ID", Change{Op: OpAddToken, At: t0, Token: &other}, "already exists"},
		{"s1 joins", Change{Op: OpAdmit, At: t0, Peer: p1, Name: "s1", Role: RoleStudent, TokenID: tok.ID, Serial: "a1", NotAfter: t0.Add(time.Hour)}, ""},
		// Proposed again because the first outcome was lost with a leader:
		// done already, and its use by s1 stays counted (s3 finds none).
		{"the same token again", Change{Op: OpAddToken, At: t0, Token: &tok}, ""},
		// A coordinator lagging the log asks for a token bound to a name
		// the log has already given away.
		{"a token bound to s1's name", Change{Op: OpAddToken, At: t0, Token: &bound}, `name "S1" is already held by peer`},
		{"s1's join again (a lost reply)", Change{Op: OpAdmit, At: t0, Peer: p1, Name: "s1", Role: RoleStudent, TokenID: tok.ID, Serial: "a2", NotAfter: t0.Add(time.Hour)}, ""},
		{"another peer as S1", Change{Op: OpAdmit, At: t0, Peer: p2, Name: "S1", Role: RoleStudent, TokenID: tok.ID, Serial: "a3", NotAfter: t0.Add(time.Hour)}, `name "S1" is already held`},
		{"s2 joins after the token expired", Change{Op: OpAdmit, At: t0.Add(2 * time.Hour), Peer: p2, Name: "s2", Role: RoleStudent, TokenID: tok.ID, Serial: "a4", NotAfter: t0.Add(3 * time.Hour)}, "expired at"},
		{"s2 joins", Change{Op: OpAdmit, At: t0, Peer: p2, Name: "s2", Role: RoleStudent, TokenID: tok.ID, Serial: "a5", NotAfter: t0.Add(time.Hour)}, ""},
		{"s3 finds no use left", Change{Op: OpAdmit, At: t0, Peer: p3, Name: "s3", Role: RoleStudent, TokenID: tok.ID, Serial: "a6", NotAfter: t0.Add(time.Hour)}, "no uses left (all 2 used)"},
		{"s1 renews", Change{Op: OpRenew, At: t0, Peer: p1, Serial: "a7", NotAfter: t0.Add(2 * time.Hour)}, ""},
		{"a stranger renews", Change{Op: OpRenew, At: t0, Peer: p3, Serial: "a8", NotAfter: t0.Add(2 * time.Hour)}, "is not a member"},
		{"s1 revoked", Change{Op: OpRevoke, At: t0, Who: "s1"}, ""},
		{"s1 revoked again", Change{Op: OpRevoke, At: t0, Who: "s1"}, `no member named or with peer ID "s1"`},
		{"lift nobody", Change{Op: OpLift, At: t0, Who: "s9"}, `no revocation to lift for "s9"`},
		{"s1 lifted", Change{Op: OpLift, At: t0, Who: "s1"}, ""},
		{"the token cancelled", Change{Op: OpCancelToken, At: t0, TokenID: tok.ID}, ""},
		{"the token cancelled again", Change{Op: OpCancelToken, At: t0, TokenID: tok.ID}, "already cancelled"},
	}
	for _, s := range steps {
		before, err := r.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Apply(s.c)
		switch {
		case s.refusal == "" && err != nil:
			t.Fatalf("%s: %v", s.what, err)
		case s.refusal != "" && (err == nil || !IsRefusal(err) || !strings.Contains(err.Error(), s.refusal)):
			t.Fatalf("%s: got %v, want a refusal containing %q", s.what, err, s.refusal)
		case s.refusal != "":
			if after, _ := r.MarshalState(); !bytes.Equal(before, after) {
				t.Fatalf("%s: a refusal changed the registry", s.what)
			}
		}
	}
	if m, ok := r.Member(p2); !ok || m.Name != "s2" || len(r.Members()) != 1 {
		t.Fatalf("members %+v, want s2 alone", r.Members())
	}
	if got := r.CRLNumber(); got != 2 {
		t.Errorf("CRL number %d after a revocation and a lift, want 2", got)
	}
	st, err := r.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	back := NewMemoryRegistry()
	if err := back.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalState(); !bytes.Equal(again, st) {
		t.Fatalf("restored state differs:\n%s\n%s", st, again)
	}
	if err := back.RestoreState([]byte(`{"format":1,"members":{"x":{}}}`)); err == nil {
		t.Error("a malformed state was restored")
	}
	if again, _ := back.MarshalState(); !bytes.Equal(again, st) {
		t.Error("a failed restore changed the registry")
	}
}

// TestDecodeChangeNamesWhatIsWrong: a change with a field its op needs
// missing or malformed is refused, naming it.
func TestDecodeChangeNamesWhatIsWrong(t *testing.T) {
	p := randomPeer(t).String()
	tok := strings.Repeat("cd", 16)
	cases := []struct{ in, want string }{
		{`{"op":"admit","at":"2026-12-07T09:00:00Z","peer":"` + p + `","name":"s1","role":"student","token_id":"` + tok + `","serial":"1f"}`, ""},
		{`{"op":"admit","at":"2026-12-07T09:00:00Z","peer":"` + p + `","name":"s1","role":"student","token_id":"` + tok + `"}`, `serial ""`},
		{`{"op":"admit","at":"2026-12-07T09:00:00Z","peer":"` + p + `","name":"s1","role":"pirate","token_id":"` + tok + `","serial":"1f"}`, `role "pirate"`},
		{`{"op":"admit","at":"2026-12-07T09:00:00Z","peer":"` + p + `","name":"s1","role":"student","token_id":"zz","serial":"1f"}`, `token ID "zz"`},
		{`{"op":"revoke","at":"2026-12-07T09:00:00Z"}`, `member ""`},
		{`{"op":"token","at":"2026-12-07T09:00:00Z"}`, `token "none"`},
		{`{"op":"explode"}`, `operation "explode"`},
		{`{"op":"lift","who":"s1","extra":1}`, `unknown field "extra"`},
		{`{"op":"lift","who":"s1"} {}`, "more than one value"},
	}
	for _, tc := range cases {
		_, err := DecodeChange([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error naming %s", tc.in, err, tc.want)
		}
	}
}

// FuzzDecodeChange: a change that decodes re-encodes to one that decodes
// the same.
func FuzzDecodeChange(f *testing.F) {
	f.Add([]byte(`{"op":"revoke","at":"2026-12-07T09:00:00Z","who":"s1","cancel_token":true}`))
	f.Add([]byte(`{"op":"cancel","at":"2026-12-07T09:00:00Z","token_id":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := DecodeChange(in)
		if err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("an accepted change does not encode: %v", err)
		}
		again, err := DecodeChange(out)
		if err != nil {
			t.Fatalf("a re-encoded change does not decode: %v\n%s", err, out)
		}
		if out2, _ := again.Encode(); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the change:\n%s\n%s", out, out2)
		}
	})
}
