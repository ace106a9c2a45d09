//go:build linux

package examples_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClassroomTC runs small classes with -shaping tc: every node in a
// network namespace of its own, told no cap, the kernel enforcing them with
// HTB. Unshaped, on these veths, a 4 MiB class takes a fraction of a
// second; so a class that cannot beat the caps' bound shows that the
// kernel enforced them. Every run must leave no namespace behind, even one
// interrupted, and must remove what a crashed run left.
func TestClassroomTC(t *testing.T) {
	if testing.Short() {
		t.Skip("slow; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("-shaping tc needs Linux's network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("-shaping tc needs root (CAP_NET_ADMIN) to create network namespaces; not root")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("-shaping tc needs ip and tc from iproute2: %v", err)
		}
	}
	bin := build(t, "classroom")["classroom"]

	// What a crashed run leaves: a namespace named for a process that
	// cannot exist, its ID above the kernel's largest.
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	crashed := "p2pclass-" + strconv.Itoa(pidMax+1) + "-sw"
	if out, err := exec.Command("ip", "netns", "add", crashed).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", crashed, err, out)
	}
	t.Cleanup(func() {
		if namespaces(t, crashed) != nil {
			exec.Command("ip", "netns", "del", crashed).Run()
			t.Errorf("the classroom left %s, a crashed run's namespace, in place", crashed)
		}
	})

	const f = 4.0 // MiB
	tests := []struct {
		name  string
		args  []string
		bound float64 // seconds: F over the cap that binds
		check string  // which times must respect it
	}{
		// Each leecher must take in F at 1 MiB/s.
		{name: "download", args: []string{"-seed-up", "8MiB", "-up", "2MiB", "-down", "1MiB"}, bound: f / 1, check: "each"},
		// Every byte must leave the seeder once at 1 MiB/s; the leechers
		// are not capped at all.
		{name: "upload", args: []string{"-seed-up", "1MiB", "-up", "0", "-down", "0"}, bound: f / 1, check: "last"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jsonOut := filepath.Join(t.TempDir(), "result.json")
			args := append([]string{"-shaping", "tc", "-n", "3", "-size", "4MiB", "-json-out", jsonOut}, tt.args...)
			r := run(t, bin, args...)
			if r.code != 0 {
				t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			var res struct {
				Shaping   string  `json:"shaping"`
				Netns     string  `json:"netns_prefix"`
				Verified  int     `json:"verified"`
				Min       float64 `json:"min_seconds"`
				Makespan  float64 `json:"makespan_seconds"`
				TStar     float64 `json:"tstar_seconds"`
				FromSpawn struct {
					Makespan float64 `json:"makespan_seconds"`
					Phases   []struct {
						Phase  string  `json:"phase"`
						Count  int     `json:"count"`
						Median float64 `json:"median_seconds"`
					} `json:"phases"`
				} `json:"from_spawn"`
				CPU struct {
					PerStudent float64 `json:"per_student"`
				} `json:"cpu"`
				Connections struct {
					DoneMax int `json:"done_max"`
				} `json:"connections"`
			}
			b, err := os.ReadFile(jsonOut)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatalf("-json-out: %v\n%s", err, b)
			}
			if res.Shaping != "tc" || !strings.HasPrefix(res.Netns, "p2pclass-") || res.Verified != 3 {
				t.Fatalf("-json-out: shaping %q, namespaces %q, %d verified; want tc, p2pclass-…, 3\nstdout:\n%s", res.Shaping, res.Netns, res.Verified, r.stdout)
			}
			if left := namespaces(t, res.Netns); left != nil {
				t.Errorf("namespaces left after the run: %q", left)
			}
			// The caps' bound, less the 64 KiB HTB lets through at once and
			// a little for the clocks.
			slack := 0.05 * tt.bound
			got := res.Makespan
			if tt.check == "each" {
				got = res.Min
			}
			if got < tt.bound-slack || res.TStar != tt.bound {
				t.Errorf("%s leecher done %.3f s after the go-ahead, T* %.3f s; want T* %.3f s and no faster than %.3f s: the kernel did not enforce the caps\nstdout:\n%s",
					tt.check, got, res.TStar, tt.bound, tt.bound-slack, r.stdout)
			}
			// Timed from spawn, the class took its joining on top.
			if res.FromSpawn.Makespan < res.Makespan {
				t.Errorf("makespan from spawn %.3f s, below the %.3f s from the go-ahead", res.FromSpawn.Makespan, res.Makespan)
			}
			var phases []string
			for _, p := range res.FromSpawn.Phases {
				phases = append(phases, p.Phase)
				if p.Count != 3 {
					t.Errorf("phase %s reached by %d leechers, want 3", p.Phase, p.Count)
				}
			}
			if want := "started joined go-ahead manifest first piece done"; strings.Join(phases, " ") != want {
				t.Errorf("phases from spawn %q, want %q", phases, want)
			}
			if res.CPU.PerStudent <= 0 || res.Connections.DoneMax < 1 {
				t.Errorf("CPU a student %v s, connections when done at most %d; want some of each", res.CPU.PerStudent, res.Connections.DoneMax)
			}
		})
	}

	// With -rtt, a releaser in each node's namespace holds every packet
	// into the node: the class still completes, the summary says what
	// was added, and nothing is left running.
	t.Run("rtt", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("iptables"); err != nil {
			t.Skipf("-rtt needs iptables: %v", err)
		}
		jsonOut := filepath.Join(t.TempDir(), "result.json")
		r := run(t, bin, "-shaping", "tc", "-n", "3", "-size", "4MiB", "-seed-up", "4MiB", "-up", "2MiB", "-down", "4MiB",
			"-go-ahead=false", "-rtt", "20ms", "-json-out", jsonOut)
		if r.code != 0 {
			t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		var res struct {
			Netns    string  `json:"netns_prefix"`
			Verified int     `json:"verified"`
			RTT      float64 `json:"added_rtt_seconds"`
			Delay    *struct {
				Hold      float64 `json:"hold_seconds"`
				Releasers int     `json:"releasers"`
				Packets   int64   `json:"packets"`
				CPU       float64 `json:"cpu_seconds"`
			} `json:"rtt_releasers"`
		}
		b, err := os.ReadFile(jsonOut)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("-json-out: %v\n%s", err, b)
		}
		if res.Verified != 3 || res.RTT != 0.02 || res.Delay == nil || res.Delay.Hold != 0.01 || res.Delay.Releasers != 4 || res.Delay.Packets == 0 || res.Delay.CPU <= 0 {
			t.Errorf("-json-out: %d verified, rtt %v s, releasers %+v; want 3, 0.02 s, a hold of 0.01 s by 4 releasers that held packets and used CPU\n%s", res.Verified, res.RTT, res.Delay, r.stdout)
		}
		for _, want := range []string{"+20ms round trip (NFQUEUE)", "added RTT:      20ms between any two nodes: each packet into a node held 10ms"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the summary lacks %q:\n%s", want, r.stdout)
			}
		}
		if left := namespaces(t, res.Netns); left != nil {
			t.Errorf("namespaces left after the run: %q", left)
		}
		out, _ := exec.Command("pgrep", "-f", bin+" __nfqdelay").Output()
		if len(out) > 0 {
			t.Errorf("releasers left running after the run: %s", out)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		t.Parallel()
		// 64 MiB at 1 MiB/s: a minute, unless interrupted. With -rtt, if
		// iptables is there, so that the releasers must go too.
		args := []string{"-shaping", "tc", "-n", "3", "-size", "64MiB", "-seed-up", "1MiB", "-up", "1MiB", "-down", "1MiB"}
		if _, err := exec.LookPath("iptables"); err == nil {
			args = append(args, "-rtt", "2ms")
		}
		cmd := exec.Command(bin, args...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		prefix := "p2pclass-" + strconv.Itoa(cmd.Process.Pid) + "-"
		timer := time.AfterFunc(deadline, func() { cmd.Process.Kill() })
		defer timer.Stop()
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		fetching := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "joined in") && strings.HasSuffix(sc.Text(), "fetching") {
				fetching = true
				break
			}
		}
		if !fetching {
			cmd.Wait()
			t.Fatalf("the class never started fetching\nstderr:\n%s", log.String())
		}
		if got := namespaces(t, prefix); len(got) != 5 {
			t.Errorf("while fetching: namespaces %q, want the switch's and 4 nodes'", got)
		}
		// This classroom's own releasers: the rtt subtest, running beside
		// this one, has releasers of the same program.
		var releasers []string
		if slices.Contains(args, "-rtt") {
			out, _ := exec.Command("pgrep", "-P", strconv.Itoa(cmd.Process.Pid), "-f", bin+" __nfqdelay").Output()
			if releasers = strings.Fields(string(out)); len(releasers) != 4 {
				t.Errorf("while fetching: releasers %q, want one for each of the 4 nodes", releasers)
			}
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		err = cmd.Wait()
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(log.String(), "interrupt") {
			t.Errorf("interrupted: %v, want exit status 1 naming the interrupt\nstderr:\n%s", err, log.String())
		}
		if left := namespaces(t, prefix); left != nil {
			t.Errorf("namespaces left after an interrupt: %q", left)
		}
		for _, pid := range releasers {
			if n, err := strconv.Atoi(pid); err == nil && syscall.Kill(n, 0) == nil {
				t.Errorf("releaser %d left running after an interrupt", n)
			}
		}
	})
}

// namespaces are the network namespaces whose names begin with prefix.
func namespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			names = append(names, f[0])
		}
	}
	return names
}
