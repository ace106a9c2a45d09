package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRevokedStudentCannotRejoin is the attack as a student runs it: once
// revoked, s1234 deletes its data folder and runs the leecher again with
// the class invite and its old -name. It is refused, and told why. The
// class invite still admits classmates; "lift s1234" lets the name in
// again; "invite cancel" stops the invite for everyone.
func TestRevokedStudentCannotRejoin(t *testing.T) {
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, _ := randomFile(t, dir, 64<<10)
	c := startConsole(t, bin["seeder"], src)
	data := filepath.Join(dir, "s1234")
	if r := c.join(bin["leecher"], c.s.Invite, "s1234", data); r.code != 0 {
		t.Fatalf("s1234 joining: exit %d\n%s", r.code, r.stderr)
	}
	c.do("revoke s1234", "seeder: revoked s1234")

	for _, name := range []string{"s1234", "S1234"} {
		if err := os.RemoveAll(data); err != nil {
			t.Fatal(err)
		}
		r := c.join(bin["leecher"], c.s.Invite, name, data)
		if r.code == 0 || !strings.Contains(r.stderr, `was revoked (as "s1234"`) {
			t.Errorf("the revoked student back as %s with a fresh identity: exit %d, want a refusal saying the name was revoked\n%s", name, r.code, r.stderr)
		}
	}
	if r := c.join(bin["leecher"], c.s.Invite, "s5678", filepath.Join(dir, "s5678")); r.code != 0 {
		t.Fatalf("a classmate with the class invite: exit %d\n%s", r.code, r.stderr)
	}

	c.do("lift s1234", "seeder: lifted the revocation of s1234")
	if r := c.join(bin["leecher"], c.s.Invite, "s1234", data); r.code != 0 {
		t.Fatalf("s1234 after the lift: exit %d\n%s", r.code, r.stderr)
	}

	c.do("invite cancel "+c.s.Invite, "seeder: invite cancelled")
	r := c.join(bin["leecher"], c.s.Invite, "s9999", filepath.Join(dir, "s9999"))
	if r.code == 0 || !strings.Contains(r.stderr, "was cancelled by the teacher") {
		t.Errorf("a newcomer with the cancelled invite: exit %d, want a refusal saying it was cancelled\n%s", r.code, r.stderr)
	}
	c.do("invite cancel 0123", "seeder: invite cancel:")
	c.do("lift nobody", `seeder: lift nobody: no revocation to lift for "nobody"`)
}
