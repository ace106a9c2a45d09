package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRevokedStudentComesBackUnderItsName is the attack: a student admitted
// with the class's shared invite is revoked, makes a fresh key (deletes
// its data folder) and joins again with the same invite under its old
// name. The name stays reserved to the revocation, whatever its case or
// look-alike spelling; the invite itself still admits the rest of the
// class; once the teacher lifts the revocation, the name is admitted
// again.
func TestRevokedStudentComesBackUnderItsName(t *testing.T) {
	tn := newTestNet(t, nil)
	class := tn.invite(InviteOptions{Uses: 20})
	k := newKey(t)
	c, err := joinWith(t, k, class, "s1234", RoleStudent)
	if err != nil {
		t.Fatal(err)
	}
	s := newNode(t, "s1234", k, c, nil)
	link(t, s, tn.bn)
	if err := tn.boot.Revoke("s1234"); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"s1234", "S1234"} {
		_, err := joinWith(t, newKey(t), class, name, RoleStudent)
		wantRefused(t, err, `was revoked (as "s1234"`)
		wantRefused(t, err, "unless the teacher lifts")
	}
	// A look-alike spelling is refused too, even by a client that does
	// not check names itself.
	_, err = rawJoin(t, newKey(t), class, "ѕ1234") // Cyrillic dze
	wantRefused(t, err, `was revoked (as "s1234"`)
	// The old key is refused under any name: the bootstrap does not even
	// let it connect.
	if _, err := joinWith(t, k, class, "s9999", RoleStudent); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the revoked key joining under a new name: %v", err)
	}

	// The shared invite still admits the rest of the class.
	if _, err := joinWith(t, newKey(t), class, "s5678", RoleStudent); err != nil {
		t.Fatalf("a classmate with the shared invite: %v", err)
	}

	crl := tn.boot.Registry().CRLNumber()
	if err := tn.boot.Lift("S1234"); err != nil {
		t.Fatal(err)
	}
	if n := tn.boot.Registry().CRLNumber(); n != crl+1 {
		t.Errorf("CRL number %d after a lift, want %d", n, crl+1)
	}
	if _, err := joinWith(t, newKey(t), class, "s1234", RoleStudent); err != nil {
		t.Fatalf("s1234 after the lift: %v", err)
	}
	if err := tn.boot.Lift("s1234"); err == nil || !strings.Contains(err.Error(), "no revocation to lift") {
		t.Errorf("lifting twice: %v", err)
	}
	// The certificate revoked stays revoked.
	if _, err := tn.bn.m.verify.Verify(c.Cert, s.id, time.Now()); !errors.Is(err, ErrRevoked) {
		t.Errorf("the revoked certificate after the lift: %v, want ErrRevoked", err)
	}
}

// TestLiftLetsTheSameKeyBack: a member revoked and lifted by peer ID joins
// again with its own key, and a member that had refused it (by peer ID,
// from the CRL) takes it back, while its old certificate stays revoked.
func TestLiftLetsTheSameKeyBack(t *testing.T) {
	tn := newTestNet(t, nil)
	a := tn.member("alice")
	link(t, a, tn.bn)
	v := tn.member("victor")
	link(t, v, a)
	old := v.m.Own().DER
	if err := tn.boot.Revoke("victor"); err != nil {
		t.Fatal(err)
	}
	a.ev.until(t, "alice to refuse victor", func() bool { return a.m.Blocked(v.id) })
	_ = v.m.Close()
	_ = v.h.Close()

	if err := tn.boot.Lift(v.id.String()); err != nil {
		t.Fatal(err)
	}
	a.ev.until(t, "alice to take the lift", func() bool { return a.m.CRLNumber() == 2 })
	if a.m.Blocked(v.id) || tn.bn.m.Blocked(v.id) {
		t.Fatalf("after the lift, victor is still refused: by alice %v, by the bootstrap %v", a.m.Blocked(v.id), tn.bn.m.Blocked(v.id))
	}
	c, err := joinWith(t, v.key, tn.invite(InviteOptions{}), "victor", RoleStudent)
	if err != nil {
		t.Fatalf("victor rejoining after the lift: %v", err)
	}
	back := newNode(t, "victor", v.key, c, nil)
	link(t, back, a)
	if _, err := a.m.verify.Verify(old, v.id, time.Now()); !errors.Is(err, ErrRevoked) {
		t.Errorf("victor's old certificate after the lift: %v, want ErrRevoked", err)
	}
	// A peer that shows its lifted, old certificate is dropped, but not
	// refused for good.
	if err := a.m.ApplyCRL(tn.boot.CRL()); err != nil && !errors.Is(err, ErrStaleCRL) {
		t.Fatal(err)
	}
	a.m.barRevoked(v.id, old)
	if a.m.isRevoked(nil, v.id) {
		t.Error("an old certificate of a lifted revocation bars its peer again")
	}

	// Revoked again, it is refused again, by its new certificate.
	if err := tn.boot.Revoke("victor"); err != nil {
		t.Fatal(err)
	}
	a.ev.until(t, "alice to refuse victor again", func() bool { return a.m.Blocked(v.id) && !a.m.IsMember(v.id) })
}

// TestCancelledInviteAdmitsNobody: the teacher cancels the class invite;
// nobody joins with it from then on, and the refusal says so. Revoking a
// member with CancelInvite cancels the invite that admitted it. Both
// survive a restart of the bootstrap, as do the revocations and lifts.
func TestCancelledInviteAdmitsNobody(t *testing.T) {
	tn := newTestNet(t, nil)
	class := tn.invite(InviteOptions{Uses: 20})
	if _, err := joinWith(t, newKey(t), class, "s0001", RoleStudent); err != nil {
		t.Fatal(err)
	}
	if err := tn.boot.CancelInvite(class.TokenIDString()); err != nil {
		t.Fatal(err)
	}
	_, err := joinWith(t, newKey(t), class, "s0002", RoleStudent)
	wantRefused(t, err, "was cancelled by the teacher")
	if err := tn.boot.CancelInvite(class.TokenIDString()); err == nil || !strings.Contains(err.Error(), "already cancelled") {
		t.Errorf("cancelling twice: %v", err)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("0", 32)} {
		if err := tn.boot.CancelInvite(bad); err == nil {
			t.Errorf("CancelInvite(%q) = nil", bad)
		}
	}
	if len(tn.boot.Registry().Members()) != 2 {
		t.Errorf("members after the cancel: %v, want the teacher and s0001", tn.boot.Registry().Members())
	}

	second := tn.invite(InviteOptions{Uses: 20})
	if _, err := joinWith(t, newKey(t), second, "s0003", RoleStudent); err != nil {
		t.Fatal(err)
	}
	if err := tn.boot.RevokeWith("s0003", RevokeOptions{CancelInvite: true}); err != nil {
		t.Fatal(err)
	}
	_, err = joinWith(t, newKey(t), second, "s0004", RoleStudent)
	wantRefused(t, err, "was cancelled by the teacher")
	third := tn.invite(InviteOptions{Uses: 20})
	if _, err := joinWith(t, newKey(t), third, "s0005", RoleStudent); err != nil {
		t.Fatalf("a new invite after the cancel: %v", err)
	}

	tn.stop()
	tn.start(nil)
	class.Bootstrap, third.Bootstrap = info(tn.bn.h), info(tn.bn.h) // it listens on a new port
	_, err = joinWith(t, newKey(t), class, "s0006", RoleStudent)
	wantRefused(t, err, "was cancelled by the teacher")
	_, err = joinWith(t, newKey(t), third, "s0003", RoleStudent)
	wantRefused(t, err, `name "s0003" was revoked`)
	if err := tn.boot.Lift("s0003"); err != nil {
		t.Fatal(err)
	}
	tn.stop()
	tn.start(nil)
	third.Bootstrap = info(tn.bn.h)
	if _, err := joinWith(t, newKey(t), third, "s0003", RoleStudent); err != nil {
		t.Fatalf("s0003 after a lift and a restart: %v", err)
	}
}
