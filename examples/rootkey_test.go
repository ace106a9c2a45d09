package examples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestRootKeyOfflineSeeder: the bootstrap A of a group of three takes
// the root key offline ("root export FILE" on its stdin): the key is in
// FILE and gone from A's -data. A is killed (SIGKILL); with A's invite,
// coordinator B admits a newcomer, which fetches the share. A started
// again from its -data, without the key, admits under its coordinator
// certificate.
func TestRootKeyOfflineSeeder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL to send")
	}
	bin := build(t, "seeder", "leecher")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 128<<10)
	aData := filepath.Join(dir, "a")
	a := startConsole(t, bin["seeder"], src, "-coordinators", "ta-b,ta-c", "-data", aData, "-log-level", "warn")
	var cos []*console
	for _, name := range []string{"ta-b", "ta-c"} {
		cos = append(cos, startConsole(t, bin["seeder"], src, "-invite", a.s.Invite, "-name", name, "-coordinator",
			"-data", filepath.Join(dir, name), "-log-level", "warn"))
	}
	b := cos[0]
	key := filepath.Join(dir, "usb", "root.key")
	a.do("root export "+key, "seeder: root export: ")
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	a.do("root export "+key, "seeder: the root key is in "+key)
	if _, err := os.Stat(filepath.Join(aData, "network", "ca.key")); err == nil {
		t.Fatal("the root key is still in A's -data")
	}
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("the root key file: %v", err)
	}
	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = a.cmd.Wait()

	s2 := filepath.Join(dir, "s2")
	r := run(t, bin["leecher"], "-invite", a.s.Invite, "-name", "s2", "-data", s2, "-infohash", a.s.Infohash,
		"-out", filepath.Join(s2, "copy"), "-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done",
		"-bootstrap", loopbackAddr(t, b.s.Addrs))
	if r.code != 0 {
		t.Fatalf("s2 through B, A killed and its root key offline: exit %d\n%s", r.code, r.stderr)
	}
	if got, err := os.ReadFile(filepath.Join(s2, "copy")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("s2's copy differs from the share (%v)", err)
	}

	// Where the coordinators knew it.
	a2 := startConsoleCmd(t, exec.Command(bin["seeder"], "-file", src, "-listen", strings.Split(loopbackAddr(t, a.s.Addrs), "/p2p/")[0],
		"-coordinators", "ta-b,ta-c", "-data", aData, "-log-level", "warn"))
	inv := strings.TrimSpace(a2.do("invite 1", "p2pshare://"))
	if r := a2.join(bin["leecher"], inv, "s3", filepath.Join(dir, "s3")); r.code != 0 {
		t.Fatalf("s3 through A started again without its root key: exit %d\n%s", r.code, r.stderr)
	}
}
