// Package classweb serves the teacher's view of a class to a browser: one
// page (plain HTML, CSS and JavaScript, embedded) kept live by server-sent
// events, and the same data as JSON for campus tools.
//
//	GET /             the page
//	GET /status.json  the class now, a p2pshare.ClassSnapshot
//	GET /events       server-sent events, one snapshot each, about twice a second
package classweb

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/p2pshare/p2pshare/p2pshare"
)

//go:embed page.html
var page []byte

// Class is where the snapshots come from: the bootstrap's *p2pshare.Swarm.
type Class interface {
	Class(p2pshare.Infohash) (p2pshare.ClassSnapshot, error)
	WatchClass(context.Context, p2pshare.Infohash) (<-chan p2pshare.ClassSnapshot, error)
}

// Handler serves the page, the JSON and the events for one share. It does
// not screen clients: wrap it in Loopback.
func Handler(c Class, share p2pshare.Infohash) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		snap, err := c.Class(share)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(snap)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		snaps, err := c.WatchClass(r.Context(), share)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		rc := http.NewResponseController(w)
		for snap := range snaps {
			b, err := json.Marshal(snap)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
	return mux
}

// Server is the page's HTTP server, listening.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// Listen serves h on addr until ctx ends or Close. Requests' contexts end
// with ctx, so the event streams do too.
func Listen(ctx context.Context, addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		srv: &http.Server{
			Handler: h, ReadHeaderTimeout: 10 * time.Second,
			BaseContext: func(net.Listener) context.Context { return ctx },
		},
		ln: ln, done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, giving open requests a moment to end.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
