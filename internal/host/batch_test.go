package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// countingConn counts the writes that reach a TCP socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// securePair runs a TLS handshake over a loopback TCP connection: the
// dialler's side secured by the batched transport over a socket that
// counts its writes, the listener's by libp2p's own TLS transport.
func securePair(t *testing.T) (client sec.SecureConn, counted *countingConn, server sec.SecureConn) {
	t.Helper()
	key := func() (crypto.PrivKey, peer.ID) {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, id
	}
	ck, _ := key()
	sk, sid := key()
	ct, err := newBatchedTLS(libp2ptls.ID, ck, []tptu.StreamMuxer{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := libp2ptls.New(libp2ptls.ID, sk, []tptu.StreamMuxer{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   sec.SecureConn
		err error
	}
	done := make(chan res, 1)
	go func() {
		raw, err := l.Accept()
		if err != nil {
			done <- res{err: err}
			return
		}
		c, err := st.SecureInbound(ctx, raw, "")
		done <- res{c, err}
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counted = &countingConn{Conn: raw}
	client, err = ct.SecureOutbound(ctx, counted, sid)
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = r.c.Close() })
	return client, counted, r.c
}

// TestBatchedTLSWritesAFrameAtOnce: a 64 KiB write on a connection the
// batched transport secured is five TLS records, and reaches the socket
// as one write; the peer, running libp2p's TLS unchanged, reads it whole.
func TestBatchedTLSWritesAFrameAtOnce(t *testing.T) {
	client, counted, server := securePair(t)
	frame := make([]byte, 64<<10+12) // a mux frame: 64 KiB and its header
	if _, err := rand.Read(frame); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 2*len(frame))
		_, err := io.ReadFull(server, b)
		if err != nil {
			b = nil
		}
		got <- b
	}()
	before := counted.writes.Load()
	for range 2 {
		if n, err := client.Write(frame); n != len(frame) || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
	}
	if w := counted.writes.Load() - before; w != 2 {
		t.Errorf("two 64 KiB writes reached the socket in %d writes, want 2", w)
	}
	b := <-got
	if b == nil || !bytes.Equal(b[:len(frame)], frame) || !bytes.Equal(b[len(frame):], frame) {
		t.Fatal("the peer did not read what was written")
	}
	// The other way, and small writes, pass unchanged.
	if _, err := server.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 2)
	if _, err := io.ReadFull(client, small); err != nil || string(small) != "ok" {
		t.Fatalf("read %q, %v", small, err)
	}
}

// TestBatchedTLSWriteFailsOnAClosedSocket: a write after the socket is
// gone returns an error, not a silent loss.
func TestBatchedTLSWriteFailsOnAClosedSocket(t *testing.T) {
	client, counted, server := securePair(t)
	_ = server.Close()
	_ = counted.Conn.Close()
	if _, err := client.Write(make([]byte, 64<<10)); err == nil {
		t.Fatal("a write on a closed socket succeeded")
	}
}
