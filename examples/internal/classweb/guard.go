package classweb

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Loopback serves next only to clients on this machine, unless
// allowRemote: a request from an address that is not loopback, or naming a
// host that is not (a DNS-rebinding page in a student's browser, say), gets
// 403 Forbidden.
func Loopback(next http.Handler, allowRemote bool) http.Handler {
	if allowRemote {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsLocal(r) {
			http.Error(w, "the class page answers this machine only (the seeder's -http-remote serves other machines)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLocal reports whether r came from a loopback address and names a
// loopback host (localhost, 127.0.0.0/8 or ::1) in its Host header.
func IsLocal(r *http.Request) bool {
	return isLoopbackHostPort(r.RemoteAddr, false) && isLoopbackHostPort(r.Host, true)
}

// isLoopbackHostPort reports whether hp, a host with or without a port, is
// a loopback IP address, or, if names, "localhost".
func isLoopbackHostPort(hp string, names bool) bool {
	host := hp
	if h, _, err := net.SplitHostPort(hp); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if names && (strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.")) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// IsLoopbackAddr reports whether addr, a listen address (host:port), is on
// loopback only. An empty host means every interface: not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return isLoopbackHostPort(host, true)
}
