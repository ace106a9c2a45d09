package host

import (
	"context"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// TLS 1.3 cuts what it sends into records of at most 16 KiB and writes
// each to the socket on its own. A piece's 64 KiB mux frame so became four
// or five write syscalls, each a TCP segment train of its own through
// every queue on the way (on a shaped link: the qdisc, the veth, the
// bridge). batchTransport hands the socket each write of the secured
// connection whole: the records it makes are gathered and written with
// one syscall, so the kernel sends a 64 KiB frame as one large segment
// (GSO) instead of four. What is sent, and when, is unchanged: every
// write reaches the socket before it returns.

// newBatchedTLS is libp2p's TLS 1.3 security transport, its writes
// batched (batchTransport). It has the constructor signature libp2p's
// Security option takes.
func newBatchedTLS(id protocol.ID, key crypto.PrivKey, muxers []tptu.StreamMuxer) (sec.SecureTransport, error) {
	t, err := libp2ptls.New(id, key, muxers)
	if err != nil {
		return nil, err
	}
	return batchTransport{t}, nil
}

// batchTransport wraps a security transport so that each write of a
// connection it secures reaches the socket as one syscall.
type batchTransport struct{ sec.SecureTransport }

func (t batchTransport) SecureInbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure}
	sc, err := t.SecureTransport.SecureInbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedConn{SecureConn: sc, raw: bc}, nil
}

func (t batchTransport) SecureOutbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure}
	sc, err := t.SecureTransport.SecureOutbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedConn{SecureConn: sc, raw: bc}, nil
}

// batchedConn is a secured connection whose writes are batched in raw.
type batchedConn struct {
	sec.SecureConn
	raw *batchConn
}

func (c *batchedConn) Write(b []byte) (int, error) {
	c.raw.hold()
	n, err := c.SecureConn.Write(b)
	if ferr := c.raw.flush(); err == nil && ferr != nil {
		return 0, ferr
	}
	return n, err
}

// maxBatch bounds what a batch holds before it is written: a mux frame
// (64 KiB) and its records' overhead fit.
const maxBatch = 128 << 10

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxBatch); return &b }}

// batchConn is the socket under the security layer. Between hold and
// flush it gathers what the layer writes; otherwise (the handshake, which
// must send before it reads) it writes through.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	on   bool
	buf  *[]byte // while on: what is gathered
	werr error   // the first write error while on
}

func (c *batchConn) hold() {
	c.mu.Lock()
	c.on = true
	c.mu.Unlock()
}

func (c *batchConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return c.Conn.Write(b)
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if c.buf == nil {
		c.buf = batchBufs.Get().(*[]byte)
	}
	if len(*c.buf)+len(b) > maxBatch {
		if err := c.writeLocked(); err != nil {
			return 0, err
		}
	}
	if len(b) > maxBatch {
		if _, err := c.Conn.Write(b); err != nil {
			c.werr = err
			return 0, err
		}
		return len(b), nil
	}
	*c.buf = append(*c.buf, b...)
	return len(b), nil
}

// writeLocked writes what is gathered.
func (c *batchConn) writeLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	if err != nil && c.werr == nil {
		c.werr = err
	}
	return err
}

// flush writes what was gathered since hold, and writes through again.
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	err := c.writeLocked()
	if err == nil {
		err = c.werr
	}
	c.werr = nil
	if c.buf != nil {
		batchBufs.Put(c.buf)
		c.buf = nil
	}
	return err
}
