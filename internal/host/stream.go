package host

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// OpenStream opens a stream to p for proto, as host.Host.NewStream does
// (dialling p unless ctx says network.WithNoDial), without waiting for
// identify. host.Host.NewStream waits for the
// connection's identify exchange first, a round trip to p and back: on a
// link whose upload queue holds a second of data, that is seconds before
// the first byte of a member's certificate or a newcomer's admission
// request leaves. OpenStream sends the protocol's name with the stream's
// first write instead. Use it only for a protocol p serves (every member
// serves the p2pshare protocols): a peer that does not resets the stream,
// which shows as an error on the first read.
func OpenStream(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID) (network.Stream, error) {
	if nodial, _ := network.GetNoDial(ctx); !nodial {
		if err := h.Connect(ctx, peer.AddrInfo{ID: p}); err != nil {
			return nil, err
		}
	}
	s, err := h.Network().NewStream(network.WithNoDial(ctx, string(proto)), p)
	if err != nil {
		return nil, fmt.Errorf("opening %s to %s: %w", proto, p, err)
	}
	if err := s.SetProtocol(proto); err != nil {
		s.ResetWithError(network.StreamResourceLimitExceeded)
		return nil, fmt.Errorf("opening %s to %s: %w", proto, p, err)
	}
	return &lazyStream{Stream: s, rw: msmux.NewMSSelect(s, proto)}, nil
}

// lazyStream is a stream whose protocol selection goes out with its first
// write and whose answer is read before its first read.
type lazyStream struct {
	network.Stream
	rw io.ReadWriteCloser
}

func (s *lazyStream) Read(b []byte) (int, error)  { return s.rw.Read(b) }
func (s *lazyStream) Write(b []byte) (int, error) { return s.rw.Write(b) }

// Close waits for the answer to the protocol selection (or a second) so
// that the other end can finish it before the stream closes.
func (s *lazyStream) Close() error {
	_ = s.Stream.SetReadDeadline(time.Now().Add(time.Second))
	return s.rw.Close()
}

// CloseWrite sends the protocol selection if nothing was written yet.
func (s *lazyStream) CloseWrite() error {
	if f, ok := s.rw.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	return s.Stream.CloseWrite()
}
