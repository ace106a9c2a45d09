package classweb

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLoopback(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name, remote, host string
		allowRemote        bool
		want               int
	}{
		{name: "this machine", remote: "127.0.0.1:50000", host: "127.0.0.1:8080", want: 200},
		{name: "localhost", remote: "127.0.0.1:50000", host: "localhost:8080", want: 200},
		{name: "IPv6 loopback", remote: "[::1]:50000", host: "[::1]:8080", want: 200},
		{name: "all of 127/8", remote: "127.3.2.1:50000", host: "127.0.0.1", want: 200},
		{name: "IPv4-mapped loopback", remote: "[::ffff:127.0.0.1]:50000", host: "127.0.0.1:8080", want: 200},
		{name: "another machine", remote: "10.0.0.7:50000", host: "10.0.0.5:8080", want: 403},
		{name: "another machine naming localhost", remote: "192.168.1.9:50000", host: "localhost:8080", want: 403},
		{name: "a page naming another host (DNS rebinding)", remote: "127.0.0.1:50000", host: "class.example.org:8080", want: 403},
		{name: "a host that only starts like loopback", remote: "127.0.0.1:50000", host: "127.0.0.1.example.org", want: 403},
		{name: "garbage remote", remote: "nonsense", host: "127.0.0.1", want: 403},
		{name: "another machine, opted in", remote: "10.0.0.7:50000", host: "10.0.0.5:8080", allowRemote: true, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/status.json", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			w := httptest.NewRecorder()
			Loopback(ok, tt.allowRemote).ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:0": true, "[::1]:80": true,
		":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false, "[::]:80": false, "nonsense": false,
	} {
		if got := IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
