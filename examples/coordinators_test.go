package examples_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCoordinatorsAdmitAfterBootstrapKilled is the class whose bootstrap
// dies, with real processes: the bootstrap A (seeder -coordinators) and
// two co-coordinators B and C (seeder -invite … -coordinator); s1 joins
// through A; A is killed (SIGKILL); with A's original invite, s2 is
// admitted through B and fetches the share, and s3 through the coordinators
// an invite printed after their appointment names; a second s2 and a new s1 are
// refused (B knows what A admitted); "revoke s1" at B reaches C.
func TestCoordinatorsAdmitAfterBootstrapKilled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL to send")
	}
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 256<<10)
	a := startConsole(t, bin["seeder"], src, "-coordinators", "ta-b,ta-c", "-data", filepath.Join(dir, "a"), "-log-level", "warn")
	var cos []*console
	for _, name := range []string{"ta-b", "ta-c"} {
		co := startConsole(t, bin["seeder"], src, "-invite", a.s.Invite, "-name", name, "-coordinator",
			"-data", filepath.Join(dir, name), "-log-level", "warn")
		cos = append(cos, co)
	}
	t0 := time.Now()
	b := cos[0]
	b.expect("seeder: the coordinator group has 2 coordinators") // A and B, before C
	t.Logf("A, B and C up, B and C appointed")
	// An invite printed now names B and C too.
	named := strings.TrimSpace(a.do("invite 5", "p2pshare://"))
	if r := a.join(bin["leecher"], a.s.Invite, "s1", filepath.Join(dir, "s1")); r.code != 0 {
		t.Fatalf("s1 through A: exit %d\n%s", r.code, r.stderr)
	}
	t.Logf("s1 joined through A and fetched in %v", time.Since(t0).Round(10*time.Millisecond))

	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()

	// A's invite names A alone: -bootstrap names B, the coordinator the
	// teacher told the class about.
	viaB := []string{"-bootstrap", loopbackAddr(t, b.s.Addrs)}
	leechWith := func(invite, name, data string, more ...string) result {
		args := append([]string{"-invite", invite, "-name", name, "-data", data, "-infohash", a.s.Infohash,
			"-out", filepath.Join(data, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done"}, more...)
		return run(t, bin["leecher"], args...)
	}
	leech := func(name, data string, more ...string) result { return leechWith(a.s.Invite, name, data, more...) }
	s2 := filepath.Join(dir, "s2")
	r := leech("s2", s2, viaB...)
	if r.code != 0 {
		t.Fatalf("s2 through B, A killed: exit %d\n%s", r.code, r.stderr)
	}
	t.Logf("s2 admitted through B and done %v after A's SIGKILL", time.Since(killed).Round(10*time.Millisecond))
	if got, err := os.ReadFile(filepath.Join(s2, "copy")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("s2's copy differs from the share (%v)", err)
	}
	// With the invite printed once B and C were coordinators, no
	// -bootstrap is needed: the newcomer tries them in turn.
	if r := leechWith(named, "s3", filepath.Join(dir, "s3")); r.code != 0 {
		t.Fatalf("s3 with an invite naming the coordinators, A killed: exit %d\n%s", r.code, r.stderr)
	}
	for _, tc := range []struct{ name, says string }{
		{"s2", `name "s2" is already held by peer`},
		{"s1", `name "s1" is already held by peer`},
	} {
		r := leech(tc.name, filepath.Join(dir, tc.name+"-again"), viaB...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.says) {
			t.Errorf("a second %s through B: exit %d, want a refusal saying %s\n%s", tc.name, r.code, tc.says, r.stderr)
		}
	}

	t.Logf("the second s2 and s1 refused")
	b.do("revoke s1", "seeder: revoked s1")
	// The CRL B signed reaches C, a member as any other, which keeps it.
	crl := filepath.Join(dir, "ta-c", "member", "crl.der")
	for end := time.Now().Add(deadline); ; {
		if fi, err := os.Stat(crl); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("C holds no CRL %v after the revocation at B", deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
