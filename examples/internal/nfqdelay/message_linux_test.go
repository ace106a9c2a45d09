package nfqdelay

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
)

// attr lays out one netlink attribute by hand: length and type in the
// host's order, the data, padding to 4 bytes.
func attr(typ uint16, data ...byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// packetMessage is a queued packet's message as the kernel sends it, with
// the attributes a packet of copy mode META carries.
func packetMessage(queue uint16, id uint32) netlink.Message {
	hdr := binary.BigEndian.AppendUint32(nil, id)
	hdr = append(hdr, 0x08, 0x00, 0) // IPv4, hook PREROUTING
	return netlink.Message{
		Header: netlink.Header{Type: 0x0300},
		Data: cat([]byte{2, 0, byte(queue >> 8), byte(queue)}, // AF_INET, version 0, the queue
			attr(attrPacketHdr, hdr...),
			attr(5, 0, 0, 0, 2),          // NFQA_IFINDEX_INDEV
			attr(9, make([]byte, 12)...), // NFQA_HWADDR
			attr(13, 0, 0, 0x05, 0xdc),   // NFQA_CAP_LEN
			attr(14, 0, 0, 0, 2)),        // NFQA_SKB_INFO: GSO
	}
}

// TestConfigMessage checks the one message that binds and sets up the
// queue against the layout of linux/netfilter/nfnetlink_queue.h.
func TestConfigMessage(t *testing.T) {
	m, err := configMessage(3, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Type != 0x0302 || m.Header.Flags != netlink.Request|netlink.Acknowledge {
		t.Errorf("header type %#x flags %v, want 0x0302 (queue subsystem, config) request|ack", uint16(m.Header.Type), m.Header.Flags)
	}
	want := cat([]byte{0, 0, 0, 3}, // AF_UNSPEC, version 0, queue 3
		attr(1, 1, 0, 0, 0),       // CFG_CMD: bind, pad, pf 0
		attr(2, 0, 0, 0, 0, 1),    // CFG_PARAMS: copy range 0, copy mode META
		attr(3, 0, 0, 0x04, 0x00), // CFG_QUEUE_MAXLEN 1024
		attr(4, 0, 0, 0, 0x05),    // CFG_MASK: GSO and fail-open
		attr(5, 0, 0, 0, 0x04))    // CFG_FLAGS: GSO on, fail-open off
	if !bytes.Equal(m.Data, want) {
		t.Errorf("config message\n got % x\nwant % x", m.Data, want)
	}
}

func TestVerdictMessage(t *testing.T) {
	m, err := verdictMessage(3, 0x01020304)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Type != 0x0303 || m.Header.Flags != netlink.Request {
		t.Errorf("header type %#x flags %v, want 0x0303 (queue subsystem, verdict batch) request", uint16(m.Header.Type), m.Header.Flags)
	}
	want := cat([]byte{0, 0, 0, 3}, attr(2, 0, 0, 0, 1, 1, 2, 3, 4)) // VERDICT_HDR: NF_ACCEPT, up to the ID
	if !bytes.Equal(m.Data, want) {
		t.Errorf("verdict message\n got % x\nwant % x", m.Data, want)
	}
}

func TestDecodePacket(t *testing.T) {
	good := packetMessage(0, 0xdeadbeef)
	with := func(typ netlink.HeaderType, data []byte) netlink.Message {
		return netlink.Message{Header: netlink.Header{Type: typ}, Data: data}
	}
	tests := []struct {
		name string
		m    netlink.Message
		want uint32
		err  string
	}{
		{name: "a packet", m: good, want: 0xdeadbeef},
		{name: "queue 258", m: packetMessage(258, 1), want: 1, err: "nfqdelay: a packet of queue 258, not 0"},
		{name: "a verdict", m: with(0x0303, good.Data), err: "nfqdelay: not a queued packet: message type 0x303"},
		{name: "conntrack's", m: with(0x0100, good.Data), err: "nfqdelay: not a queued packet: message type 0x100"},
		{name: "no header", m: with(0x0300, []byte{2, 0, 0}), err: "nfqdelay: queued packet: unmarshaling netfilter header: expected at least 4 bytes in netlink message payload"},
		{name: "no packet header", m: with(0x0300, cat([]byte{2, 0, 0, 0}, attr(5, 0, 0, 0, 2))), err: "nfqdelay: queued packet without a packet header"},
		{name: "short packet header", m: with(0x0300, cat([]byte{2, 0, 0, 0}, attr(1, 0, 0, 0, 2))), err: "nfqdelay: packet header of 4 bytes, want 7"},
		{name: "truncated attribute", m: with(0x0300, append([]byte{2, 0, 0, 0}, attr(1, 0, 0, 0, 2, 8, 0, 0)[:6]...)), err: "nfqdelay: queued packet: invalid attribute; length too short or too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := decodePacket(tt.m, 0)
			if errString(err) != tt.err {
				t.Fatalf("decodePacket: %v, want %q", err, tt.err)
			}
			if err == nil && id != tt.want {
				t.Errorf("id %#x, want %#x", id, tt.want)
			}
		})
	}
}

// FuzzDecodePacket feeds the decoder of the kernel's packet messages any
// bytes: it must not panic, and an ID it reads must be what a message of
// that ID carries.
func FuzzDecodePacket(f *testing.F) {
	f.Add(packetMessage(0, 0xdeadbeef).Data)
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := decodePacket(netlink.Message{Header: netlink.Header{Type: 0x0300}, Data: data}, 0)
		if err != nil {
			return
		}
		again, err := decodePacket(packetMessage(0, id), 0)
		if err != nil || again != id {
			t.Fatalf("decoded %d, re-encoded: %d, %v", id, again, err)
		}
	})
}
