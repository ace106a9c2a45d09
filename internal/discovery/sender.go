package discovery

import (
	"context"
	"errors"
	"fmt"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio/pbio"
)

// checkedSender is the DHT's message sender: one stream per request, and
// every answer checked before kad-dht reads it. kad-dht's own sender keeps
// one stream per peer, so an answer a member sends where none is due (to
// an ADD_PROVIDER) is read as the answer to the next request, and kad-dht
// v0.42.2 reads the record a PUT_VALUE's answer echoes without checking
// that there is one: a member answering a PUT_VALUE with no record, either
// way, crashed the node that asked. Here an answer must be of its
// request's type, a PUT_VALUE's must carry the record, and a stray answer
// dies with its stream.
type checkedSender struct {
	open func(ctx context.Context, p peer.ID) (network.Stream, error)
}

// newCheckedSender sends over h (the DHT's host, which opens streams only
// to proven members).
func newCheckedSender(h host.Host) checkedSender {
	return checkedSender{open: func(ctx context.Context, p peer.ID) (network.Stream, error) {
		return h.NewStream(ctx, p, dhtProtocol)
	}}
}

var _ pb.MessageSenderWithDisconnect = checkedSender{}

func (s checkedSender) SendRequest(ctx context.Context, p peer.ID, req *pb.Message) (*pb.Message, error) {
	st, err := s.open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := pbio.NewDelimitedWriter(st).WriteMsg(req); err != nil {
		st.Reset()
		return nil, fmt.Errorf("discovery: sending %v to %s: %w", req.GetType(), p, err)
	}
	resp := new(pb.Message)
	if err := pbio.NewDelimitedReader(st, network.MessageSizeMax).ReadMsg(resp); err != nil {
		st.Reset()
		return nil, fmt.Errorf("discovery: reading %s's answer to %v: %w", p, req.GetType(), err)
	}
	if err := checkAnswer(req, resp); err != nil {
		st.Reset()
		return nil, fmt.Errorf("discovery: %s: %w", p, err)
	}
	return resp, nil
}

// SendMessage sends m and expects no answer; whatever p sends back goes
// with the stream.
func (s checkedSender) SendMessage(ctx context.Context, p peer.ID, m *pb.Message) error {
	st, err := s.open(ctx, p)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := pbio.NewDelimitedWriter(st).WriteMsg(m); err != nil {
		st.Reset()
		return fmt.Errorf("discovery: sending %v to %s: %w", m.GetType(), p, err)
	}
	return st.Close()
}

// OnDisconnect has nothing to forget: no stream outlives its request.
func (checkedSender) OnDisconnect(context.Context, peer.ID) {}

// errBadAnswer is an answer kad-dht must not read.
var errBadAnswer = errors.New("bad DHT answer")

// checkAnswer checks resp is an answer kad-dht can read for req.
func checkAnswer(req, resp *pb.Message) error {
	if resp.GetType() != req.GetType() {
		return fmt.Errorf("%w: a %v request answered with a %v", errBadAnswer, req.GetType(), resp.GetType())
	}
	if req.GetType() == pb.Message_PUT_VALUE && resp.GetRecord() == nil {
		return fmt.Errorf("%w: a PUT_VALUE answered without its record", errBadAnswer)
	}
	return nil
}
