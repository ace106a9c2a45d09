package examples_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// unknownInfohash is well formed, but nobody shares it.
const unknownInfohash = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"

func TestPrograms(t *testing.T) {
	bin := build(t, "seeder", "leecher", "classroom")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 8<<20)
	seed := startSeeder(t, bin["seeder"], src, "-up", "8MiB")
	boot := loopbackAddr(t, seed.Addrs)
	gone := goneInvite(t, bin["seeder"], src)

	t.Run("class of five", func(t *testing.T) {
		t.Parallel()
		const leechers = 5
		out := t.TempDir()
		results := make([]result, leechers)
		var wg sync.WaitGroup
		for i := range leechers {
			wg.Go(func() {
				results[i] = run(t, bin["leecher"], "-invite", seed.Invite, "-infohash", seed.Infohash,
					"-out", filepath.Join(out, fmt.Sprintf("%d.bin", i)), "-listen", "/ip4/127.0.0.1/tcp/0",
					"-up", "4MiB", "-json", "-exit-when-done")
			})
		}
		wg.Wait()
		for i, r := range results {
			path := filepath.Join(out, fmt.Sprintf("%d.bin", i))
			if r.code != 0 {
				t.Errorf("leecher %d: exit status %d\nstderr:\n%s", i, r.code, r.stderr)
				continue
			}
			evs := events(t, r.stdout)
			if len(evs) < 2 || evs[0].Event != "start" {
				t.Errorf("leecher %d: events %+v, want start first", i, evs)
			}
			last := evs[len(evs)-1]
			if last.Event != "done" || last.Bytes != int64(len(want)) || last.Path != path || last.Seconds <= 0 {
				t.Errorf("leecher %d: last event %+v, want done with %d bytes at %s", i, last, len(want), path)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("leecher %d: %v", i, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("leecher %d: output differs from the source", i)
			}
		}
	})

	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		peerID := boot[strings.LastIndex(boot, "/")+1:]
		closed := "/ip4/127.0.0.1/tcp/1/p2p/" + peerID // a valid address nobody listens on
		fresh := filepath.Join(t.TempDir(), "out.bin")
		// leech is a leecher's arguments; none of the cases should get as
		// far as writing fresh, and none may seed forever if one does.
		leech := func(invite, infohash, out string, extra ...string) []string {
			return append([]string{"-invite", invite, "-infohash", infohash, "-out", out,
				"-listen", "/ip4/127.0.0.1/tcp/0", "-exit-when-done"}, extra...)
		}
		// A folder where the partial download's file belongs makes the
		// storage fail, a disk error as Fetch reports it.
		blocked := filepath.Join(t.TempDir(), "blocked.bin")
		if err := os.Mkdir(blocked+".p2pshare-part", 0o755); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, prog string
			args       []string
			slow       bool
			reason     string // in the first line of stderr, after "prog: "
			usage      bool   // the usage follows the reason
		}{
			{name: "leecher bad flag", prog: "leecher", args: leech(seed.Invite, seed.Infohash, fresh, "-bogus"), reason: "flag provided but not defined: -bogus", usage: true},
			{name: "leecher bad rate", prog: "leecher", args: leech(seed.Invite, seed.Infohash, fresh, "-up", "8TiB"), reason: `invalid value "8TiB" for flag -up`, usage: true},
			{name: "leecher missing out", prog: "leecher", args: []string{"-invite", seed.Invite, "-infohash", seed.Infohash}, reason: "-out is required", usage: true},
			{name: "leecher missing invite", prog: "leecher", args: []string{"-infohash", seed.Infohash, "-out", fresh}, reason: "no earlier membership in "},
			{name: "leecher bad invite", prog: "leecher", args: leech("p2pshare://garbage", seed.Infohash, fresh), reason: "-invite: "},
			{name: "malformed infohash", prog: "leecher", args: leech(seed.Invite, "not-an-infohash", fresh), reason: `-infohash: infohash "not-an-infohash"`},
			{name: "leecher unreachable bootstrap", prog: "leecher", args: leech(gone, seed.Infohash, fresh, "-timeout", "3s"), reason: "joining the network: "},
			{name: "unknown infohash", prog: "leecher", args: leech(seed.Invite, unknownInfohash, fresh, "-timeout", "2s"), slow: true, reason: "share " + unknownInfohash + " not found: no member offered it within 2s"},
			{name: "output exists", prog: "leecher", args: leech(seed.Invite, seed.Infohash, src), reason: "-out " + src + " already exists"},
			{name: "output under a file", prog: "leecher", args: leech(seed.Invite, seed.Infohash, filepath.Join(src, "x.bin")), reason: "checking the output"},
			{name: "disk error", prog: "leecher", args: leech(seed.Invite, seed.Infohash, blocked), reason: blocked + ".p2pshare-part exists and is not a regular file"},
			{name: "leecher bootstrap without peer ID", prog: "leecher", args: leech(seed.Invite, seed.Infohash, fresh, "-bootstrap", "/ip4/127.0.0.1/tcp/1"), reason: `invalid value "/ip4/127.0.0.1/tcp/1" for flag -bootstrap: "/ip4/127.0.0.1/tcp/1" does not end in /p2p/<peer ID>`, usage: true},
			{name: "leecher listen not a multiaddr", prog: "leecher", args: leech(seed.Invite, seed.Infohash, fresh, "-listen", "0.0.0.0:4001"), reason: `invalid value "0.0.0.0:4001" for flag -listen: not a multiaddr`, usage: true},
			{name: "seeder missing file", prog: "seeder", args: nil, reason: "-file is required", usage: true},
			{name: "seeder bad flag", prog: "seeder", args: []string{"-file", src, "extra"}, reason: `unexpected argument "extra"`, usage: true},
			{name: "seeder no such file", prog: "seeder", args: []string{"-file", filepath.Join(dir, "nope")}, reason: "cannot share " + filepath.Join(dir, "nope")},
			{name: "seeder unreachable bootstrap", prog: "seeder", args: []string{"-file", src, "-bootstrap", closed}, reason: "no member yet"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				if tt.slow && testing.Short() {
					t.Skip("slow; skipped with -short")
				}
				r := run(t, bin[tt.prog], tt.args...)
				if r.code == 0 {
					t.Fatalf("exit status 0, want non-zero\nstderr:\n%s", r.stderr)
				}
				first, rest, _ := strings.Cut(r.stderr, "\n")
				if !strings.HasPrefix(first, tt.prog+": ") || !strings.Contains(first, tt.reason) {
					t.Errorf("first line of stderr %q, want %q", first, tt.prog+": …"+tt.reason+"…")
				}
				if gotUsage := strings.HasPrefix(rest, "usage: "+tt.prog); gotUsage != tt.usage {
					t.Errorf("usage after the reason: %v, want %v\nstderr:\n%s", gotUsage, tt.usage, r.stderr)
				}
				if !tt.usage && rest != "" {
					t.Errorf("stderr has more than one line:\n%s", r.stderr)
				}
				if r.stdout != "" {
					t.Errorf("stdout %q, want nothing", r.stdout)
				}
			})
		}
	})

	t.Run("classroom", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("slow; skipped with -short")
		}
		for _, mode := range []string{"processes", "inprocess"} {
			t.Run(mode, func(t *testing.T) {
				dir := t.TempDir()
				jsonOut, svgOut := filepath.Join(dir, "result.json"), filepath.Join(dir, "class.svg")
				args := []string{"-n", "4", "-size", "4MiB", "-seed-up", "4MiB", "-up", "2MiB", "-down", "4MiB",
					"-json-out", jsonOut, "-svg", svgOut}
				if mode == "inprocess" {
					args = append(args, "-inprocess")
				}
				r := run(t, bin["classroom"], args...)
				if r.code != 0 {
					t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
				}
				for _, want := range []string{"completion:", "makespan:", "phases:", "T*:", "makespan / T*:", "client-server:", "seeder up / F:", "CPU:", "verified:       4 of 4"} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("summary lacks %q:\n%s", want, r.stdout)
					}
				}
				var res struct {
					Verified     int      `json:"verified"`
					Makespan     float64  `json:"makespan_seconds"`
					TStar        float64  `json:"tstar_seconds"`
					OverTStar    float64  `json:"makespan_over_tstar"`
					ClientServer float64  `json:"client_server_seconds"`
					SeederUpload float64  `json:"seeder_upload_over_f"`
					CPU          float64  `json:"cpu_seconds"`
					Busy         *float64 `json:"machine_cpu_busy"`
					Cores        int      `json:"cores"`
					Resolved     float64  `json:"resolved_median_seconds"`
					First        float64  `json:"first_piece_median_seconds"`
					Peers        []struct {
						Seconds float64 `json:"seconds"`
					} `json:"peers"`
				}
				b, err := os.ReadFile(jsonOut)
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &res); err != nil {
					t.Fatalf("-json-out: %v\n%s", err, b)
				}
				// T* = max(F/U_s, F/D_min, N·F/(U_s+ΣU_i)) = max(1, 1, 16/12) s.
				// The caps are token buckets that start full: each node may
				// send 20 ms of its cap beyond the fluid bound, 0.25 MiB in
				// all here, 0.02 s of the class's upload.
				if res.Verified != 4 || math.Abs(res.TStar-4.0/3) > 0.001 || res.Makespan < res.TStar-0.025 || res.OverTStar < 0.98 {
					t.Errorf("-json-out: %+v, want 4 verified, T* 1.333 s, makespan at least T* less the caps' bursts", res)
				}
				// Each leecher found the manifest, then a first piece, before the
				// class was done.
				if res.Resolved <= 0 || res.First < res.Resolved || res.First > res.Makespan {
					t.Errorf("-json-out: phases resolved %v s, first piece %v s, want 0 < resolved <= first <= makespan %v s", res.Resolved, res.First, res.Makespan)
				}
				// Every piece left the seeder at least once, and it all took some CPU.
				if res.ClientServer != 4 || res.SeederUpload < 1 || res.CPU <= 0 || len(res.Peers) != 4 {
					t.Errorf("-json-out: %+v, want client-server 4 s, seeder upload at least F, some CPU, 4 peers", res)
				}
				// Where the machine says how busy it was (Linux), the
				// summary says it too; the nodes kept some of it busy.
				if _, err := os.Stat("/proc/stat"); err == nil {
					if res.Busy == nil || *res.Busy <= 0 || *res.Busy > 1 || res.Cores < 1 || !strings.Contains(r.stdout, "machine CPU:") {
						t.Errorf("-json-out: machine busy %v of %d cores, want in (0, 1] of some, and a machine CPU line in the summary", res.Busy, res.Cores)
					}
				}
				for i, p := range res.Peers {
					if p.Seconds <= 0 || p.Seconds > res.Makespan {
						t.Errorf("-json-out: peer %d done at %v s, want in (0, %v]", i+1, p.Seconds, res.Makespan)
					}
				}
				svg, err := os.ReadFile(svgOut)
				if err != nil {
					t.Fatal(err)
				}
				var root struct {
					XMLName xml.Name
					Texts   []string `xml:"text"`
				}
				if err := xml.Unmarshal(svg, &root); err != nil {
					t.Fatalf("-svg is not well-formed XML: %v\n%s", err, svg)
				}
				if root.XMLName.Local != "svg" || !slices.ContainsFunc(root.Texts, func(s string) bool { return strings.HasPrefix(s, "T* ") }) {
					t.Errorf("-svg: root %v, texts %q; want an svg marking T*", root.XMLName, root.Texts)
				}
			})
		}
	})
}
