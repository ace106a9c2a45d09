package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/p2pshare/p2pshare/p2pshare"
)

func TestParseAllowNames(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"s1001\ns1002\n", "s1001,s1002", ""},
		{"# class 7b\n\n  s1001  # Ana\r\ns1002", "s1001,s1002", ""},
		{"", "", ""},
		{"s1001\ns 1\n\u017f1003\n", "", `f line 3: name "ſ1003": character 1`},
		{"s1001\n\ns1001\n", "", `f line 3: "s1001" is on line 1 already`},
		{"ok\na\u200bb\n", "", "f line 2: "},
	} {
		got, err := parseAllowNames("f", []byte(tc.in))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error saying %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || strings.Join(got, ",") != tc.want || got == nil):
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestAdmissionMode(t *testing.T) {
	for _, tc := range []struct {
		a    admission
		want string
	}{
		{admission{sharedInvite: true, allowList: -1}, "admission: open invite: whoever holds the class invite joins under any free name"},
		{admission{sharedInvite: true, allowList: 30}, "admission: allow-list: the class invite admits the 30 listed names only"},
		{admission{allowList: -1}, "admission: per-student invites: no class invite"},
		{admission{sharedInvite: true, allowList: -1, approve: true}, `; approval: each join waits for "approve NAME" or "deny NAME"`},
		{admission{sharedInvite: true, allowList: -1, maxPerAddr: 40}, "; at most 40 members per address"},
	} {
		if got := tc.a.String(); !strings.Contains(got, tc.want) || strings.Count(got, "\n") > 0 {
			t.Errorf("%+v: %q, want one line with %q", tc.a, got, tc.want)
		}
	}
}

func TestInviteArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want p2pshare.InviteOptions
		err  bool
	}{
		{nil, p2pshare.InviteOptions{Uses: 1, TTL: 24 * time.Hour}, false},
		{[]string{"30", "2h"}, p2pshare.InviteOptions{Uses: 30, TTL: 2 * time.Hour}, false},
		{[]string{"s1234"}, p2pshare.InviteOptions{Uses: 1, TTL: 24 * time.Hour, Name: "s1234"}, false},
		{[]string{"s1234", "1h"}, p2pshare.InviteOptions{Uses: 1, TTL: time.Hour, Name: "s1234"}, false},
		{[]string{"s1234", "soon"}, p2pshare.InviteOptions{}, true},
	} {
		got, err := inviteArgs(tc.args)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
}

// TestApprovals: a request waits for decide, which answers it by name or
// all; a request whose context ends leaves the list.
func TestApprovals(t *testing.T) {
	a := &approvals{out: io.Discard}
	type answer struct {
		ok  bool
		why string
	}
	ask := func(ctx context.Context, name string) <-chan answer {
		c := make(chan answer, 1)
		go func() { ok, why := a.Approve(ctx, p2pshare.JoinRequest{Name: name}); c <- answer{ok, why} }()
		return c
	}
	waitPending := func(n int) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); len(a.list(time.Now())) != n; {
			if time.Now().After(end) {
				t.Fatalf("pending %v, want %d", a.list(time.Now()), n)
			}
			time.Sleep(time.Millisecond) // polling a condition, not timing
		}
	}
	s1, s2 := ask(context.Background(), "s1"), ask(context.Background(), "s2")
	ctx, cancel := context.WithCancel(context.Background())
	s3 := ask(ctx, "s3")
	waitPending(3)
	if done := a.decide("S1", verdict{ok: false, why: "no"}); len(done) != 1 || done[0] != "s1" {
		t.Errorf("deny S1 answered %v", done)
	}
	if got := <-s1; got.ok || got.why != "no" {
		t.Errorf("s1 got %+v", got)
	}
	cancel()
	if got := <-s3; got.ok {
		t.Errorf("s3, given up, got %+v", got)
	}
	waitPending(1)
	if done := a.decide("all", verdict{ok: true}); len(done) != 1 || done[0] != "s2" {
		t.Errorf("approve all answered %v", done)
	}
	if got := <-s2; !got.ok {
		t.Errorf("s2 got %+v", got)
	}
	if done := a.decide("s9", verdict{ok: true}); len(done) != 0 {
		t.Errorf("approve s9 answered %v", done)
	}
}
