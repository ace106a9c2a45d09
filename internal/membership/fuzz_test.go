package membership

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every decoder of bytes from the network or disk has a target here; seeds
// live in testdata/fuzz/<Target>. Each must never panic, and what it
// accepts must survive a round trip.

// FuzzParseInvite: an accepted invite re-encodes to a string that parses
// to the same invite.
func FuzzParseInvite(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInvite(s)
		if err != nil {
			return
		}
		again, err := ParseInvite(inv.String())
		if err != nil {
			t.Fatalf("re-encoded invite does not parse: %v", err)
		}
		if again.String() != inv.String() {
			t.Fatalf("round trip changed the invite:\n%s\n%s", inv, again)
		}
	})
}

// FuzzDecodeServerMsg: the bootstrap's messages (challenge, refusal,
// grant) are canonical.
func FuzzDecodeServerMsg(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeServerMsg(in)
		if err != nil {
			return
		}
		if out := m.encode(); !bytes.Equal(out, in) {
			t.Fatalf("encode(decode(in)) differs:\n%x\n%x", out, in)
		}
		if m.Kind == kindChallenge {
			_, _ = ParseCACert(m.CA) // the newcomer's next step
		}
	})
}

// FuzzDecodeClientMsg: join and renew requests are canonical, and an
// accepted join carries a valid name and role.
func FuzzDecodeClientMsg(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeClientMsg(in)
		if err != nil {
			return
		}
		if out := m.encode(); !bytes.Equal(out, in) {
			t.Fatalf("encode(decode(in)) differs:\n%x\n%x", out, in)
		}
		if m.Kind == kindJoin && (validName(m.Name) != nil || validRole(m.Role) != nil) {
			t.Fatalf("accepted name %q role %q", m.Name, m.Role)
		}
	})
}

// FuzzDecodeCredential: the member exchange message is canonical.
func FuzzDecodeCredential(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeCredential(in)
		if err != nil {
			return
		}
		if out := m.encode(); !bytes.Equal(out, in) {
			t.Fatalf("encode(decode(in)) differs:\n%x\n%x", out, in)
		}
	})
}

// FuzzParseCert: member and CA certificate decoding. An accepted member
// certificate names the peer its key derives, in a valid name and role.
func FuzzParseCert(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		if c, err := ParseCACert(in); err == nil && !c.IsCA {
			t.Fatal("ParseCACert accepted a non-CA")
		}
		m, err := ParseMemberCert(in)
		if err != nil {
			return
		}
		k, err := peerKey(m.Peer)
		if err != nil || !k.Equal(m.x509.PublicKey) {
			t.Fatalf("peer %s does not match the certificate key: %v", m.Peer, err)
		}
		if validName(m.Name) != nil || validRole(m.Role) != nil {
			t.Fatalf("accepted name %q role %q", m.Name, m.Role)
		}
	})
}

// FuzzParseCRL: CRLs from gossip or disk, checked against the fixed test
// CA in testdata/fuzzca.crt, which signed the seeds.
func FuzzParseCRL(f *testing.F) {
	ca := fuzzCA(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := parseCRL(in, ca)
		if err != nil {
			return
		}
		if l.Number.Sign() <= 0 {
			t.Fatalf("accepted CRL number %v", l.Number)
		}
	})
}

// FuzzDecodeRegistry: an accepted registry file re-encodes to one that is
// accepted again.
func FuzzDecodeRegistry(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := decodeRegistry(in)
		if err != nil {
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRegistry(b); err != nil {
			t.Fatalf("re-encoded registry refused: %v\n%s", err, b)
		}
		r := &Registry{st: st}
		r.reindex()
		for k, p := range r.names {
			if m := st.Members[p.String()]; m == nil || nameKey(m.Name) != k {
				t.Fatalf("name key %q indexes peer %s, whose record is %+v", k, p, m)
			}
		}
	})
}

// FuzzCheckNewName: names come from the network. The check never
// panics, accepts only names of the right shape in composed form, and a
// name's key is its own key.
func FuzzCheckNewName(f *testing.F) {
	for _, s := range []string{"s1234", "ſ1234", "s1234\u200b", "José", "Jose\u0301", "ѕ1234", "李华", "Tanaka 太郎", "١٢٣٤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		k := nameKey(n)
		if again := nameKey(k); again != k {
			t.Fatalf("nameKey(%q) = %q, but nameKey(%q) = %q", n, k, k, again)
		}
		if checkNewName(n) != nil {
			return
		}
		if validName(n) != nil || firstNotNFC(n) >= 0 {
			t.Fatalf("accepted %q", n)
		}
	})
}

func fuzzCA(f testing.TB) *x509.Certificate {
	b, err := os.ReadFile("testdata/fuzzca.crt")
	if err != nil {
		f.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		f.Fatal("testdata/fuzzca.crt holds no PEM block")
	}
	ca, err := ParseCACert(blk.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	return ca
}

// TestFuzzSeedsStayValid keeps the seed corpus honest: the seeds meant to
// be valid must still decode, so the fuzzers start from deep inputs.
func TestFuzzSeedsStayValid(t *testing.T) {
	ca := fuzzCA(t)
	decoders := map[string]func([]byte) error{
		"FuzzParseInvite/valid":            func(b []byte) error { _, err := ParseInvite(string(b)); return err },
		"FuzzParseInvite/valid-whitespace": func(b []byte) error { _, err := ParseInvite(string(b)); return err },
		"FuzzDecodeServerMsg/challenge":    func(b []byte) error { _, err := decodeServerMsg(b); return err },
		"FuzzDecodeServerMsg/grant":        func(b []byte) error { _, err := decodeServerMsg(b); return err },
		"FuzzDecodeServerMsg/refusal":      func(b []byte) error { _, err := decodeServerMsg(b); return err },
		"FuzzDecodeServerMsg/busy":         func(b []byte) error { _, err := decodeServerMsg(b); return err },
		"FuzzDecodeClientMsg/join":         func(b []byte) error { _, err := decodeClientMsg(b); return err },
		"FuzzDecodeClientMsg/renew":        func(b []byte) error { _, err := decodeClientMsg(b); return err },
		"FuzzDecodeCredential/valid":       func(b []byte) error { _, err := decodeCredential(b); return err },
		"FuzzParseCert/member":             func(b []byte) error { _, err := ParseMemberCert(b); return err },
		"FuzzParseCert/ca":                 func(b []byte) error { _, err := ParseCACert(b); return err },
		"FuzzParseCRL/one-entry":           func(b []byte) error { _, err := parseCRL(b, ca); return err },
		"FuzzParseCRL/three-entries":       func(b []byte) error { _, err := parseCRL(b, ca); return err },
		"FuzzDecodeRegistry/valid":         func(b []byte) error { _, err := decodeRegistry(b); return err },
		"FuzzDecodeJournal/valid":          func(b []byte) error { _, _, err := decodeJournal(b); return err },
		"FuzzDecodeRegistry/revocations":   func(b []byte) error { _, err := decodeRegistry(b); return err },
		"FuzzDecodeJournal/names":          func(b []byte) error { _, _, err := decodeJournal(b); return err },
	}
	for name, decode := range decoders {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", name))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitN(strings.TrimSpace(string(raw)), "\n", 2)
			lit := lines[1]
			lit = lit[strings.Index(lit, "(")+1 : len(lit)-1]
			v, err := strconv.Unquote(lit)
			if err != nil {
				t.Fatal(err)
			}
			if err := decode([]byte(v)); err != nil {
				t.Fatalf("seed no longer decodes: %v", err)
			}
		})
	}
}

// FuzzDecodeJournal: the registry journal's accepted entries re-encode,
// line by line, to a journal that decodes to the same entries, and the
// whole-entry length never exceeds the input.
func FuzzDecodeJournal(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		es, whole, err := decodeJournal(in)
		if err != nil {
			return
		}
		if whole > len(in) {
			t.Fatalf("%d whole bytes of %d", whole, len(in))
		}
		var out []byte
		for _, e := range es {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(append(out, b...), '\n')
		}
		again, n, err := decodeJournal(out)
		if err != nil || n != len(out) || len(again) != len(es) {
			t.Fatalf("re-encoded journal: %d entries, %d of %d bytes, %v; want %d", len(again), n, len(out), err, len(es))
		}
	})
}
