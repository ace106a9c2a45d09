package nfqdelay

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/netfilter"
)

// Message types, attributes and values of the NFQUEUE protocol, from the
// kernel's uapi header linux/netfilter/nfnetlink_queue.h.
const (
	msgPacket       = 0 // NFQNL_MSG_PACKET: a queued packet, kernel to user
	msgConfig       = 2 // NFQNL_MSG_CONFIG: bind and configure a queue
	msgVerdictBatch = 3 // NFQNL_MSG_VERDICT_BATCH: a verdict on every packet up to an ID

	attrPacketHdr  = 1 // NFQA_PACKET_HDR: struct nfqnl_msg_packet_hdr
	attrVerdictHdr = 2 // NFQA_VERDICT_HDR: struct nfqnl_msg_verdict_hdr

	attrCfgCmd      = 1 // NFQA_CFG_CMD: struct nfqnl_msg_config_cmd
	attrCfgParams   = 2 // NFQA_CFG_PARAMS: struct nfqnl_msg_config_params
	attrCfgQueueMax = 3 // NFQA_CFG_QUEUE_MAXLEN: __u32
	attrCfgMask     = 4 // NFQA_CFG_MASK: which flags to change
	attrCfgFlags    = 5 // NFQA_CFG_FLAGS: their values

	cfgCmdBind = 1 // NFQNL_CFG_CMD_BIND
	copyMeta   = 1 // NFQNL_COPY_META: the packet's metadata, no payload

	flagFailOpen = 1 << 0 // NFQA_CFG_F_FAIL_OPEN: accept, undelayed, what does not fit
	flagGSO      = 1 << 2 // NFQA_CFG_F_GSO: queue segment-offload packets whole

	// packetHdrLen is the size of struct nfqnl_msg_packet_hdr: a packet
	// ID (__be32), its hardware protocol (__be16) and hook (__u8).
	packetHdrLen = 7
)

// verdictAccept is NF_ACCEPT, from linux/netfilter.h: the packet goes on.
const verdictAccept = 1

// errNotPacket is a message that is not a queued packet.
var errNotPacket = errors.New("nfqdelay: not a queued packet")

// configMessage binds queue to the sender and sets it up in one message,
// which the kernel applies at once: metadata only, segment-offload packets
// whole, at most maxLen packets queued. Fail-open stays off: a packet that
// does not fit is dropped, never let through undelayed.
func configMessage(queue uint16, maxLen uint32) (netlink.Message, error) {
	params := make([]byte, 5) // struct nfqnl_msg_config_params, packed: copy_range __be32, copy_mode __u8
	params[4] = copyMeta
	return netfilter.MarshalNetlink(
		netfilter.Header{SubsystemID: netfilter.NFSubsysQueue, MessageType: msgConfig,
			Family: netfilter.ProtoUnspec, ResourceID: queue, Flags: netlink.Request | netlink.Acknowledge},
		[]netfilter.Attribute{
			{Type: attrCfgCmd, Data: []byte{cfgCmdBind, 0, 0, 0}}, // command, pad, pf (__be16, unused)
			{Type: attrCfgParams, Data: params},
			{Type: attrCfgQueueMax, Data: netfilter.Uint32Bytes(maxLen)},
			{Type: attrCfgMask, Data: netfilter.Uint32Bytes(flagGSO | flagFailOpen)},
			{Type: attrCfgFlags, Data: netfilter.Uint32Bytes(flagGSO)},
		})
}

// verdictMessage accepts every packet of queue up to id, in one message
// the kernel does not acknowledge.
func verdictMessage(queue uint16, id uint32) (netlink.Message, error) {
	hdr := make([]byte, 8) // struct nfqnl_msg_verdict_hdr: verdict, id, both __be32
	binary.BigEndian.PutUint32(hdr[0:4], verdictAccept)
	binary.BigEndian.PutUint32(hdr[4:8], id)
	return netfilter.MarshalNetlink(
		netfilter.Header{SubsystemID: netfilter.NFSubsysQueue, MessageType: msgVerdictBatch,
			Family: netfilter.ProtoUnspec, ResourceID: queue, Flags: netlink.Request},
		[]netfilter.Attribute{{Type: attrVerdictHdr, Data: hdr}})
}

// decodePacket reads the ID of the packet that m, a message from the
// kernel, says queue holds.
func decodePacket(m netlink.Message, queue uint16) (uint32, error) {
	if m.Header.Type != netlink.HeaderType(uint16(netfilter.NFSubsysQueue)<<8|msgPacket) {
		return 0, fmt.Errorf("%w: message type %#x", errNotPacket, uint16(m.Header.Type))
	}
	h, ad, err := netfilter.DecodeNetlink(m)
	if err != nil {
		return 0, fmt.Errorf("nfqdelay: queued packet: %v", err)
	}
	if h.ResourceID != queue {
		return 0, fmt.Errorf("nfqdelay: a packet of queue %d, not %d", h.ResourceID, queue)
	}
	var id uint32
	found := false
	for ad.Next() {
		if ad.Type() != attrPacketHdr {
			continue
		}
		b := ad.Bytes()
		if len(b) < packetHdrLen {
			return 0, fmt.Errorf("nfqdelay: packet header of %d bytes, want %d", len(b), packetHdrLen)
		}
		id, found = binary.BigEndian.Uint32(b), true
	}
	if err := ad.Err(); err != nil {
		return 0, fmt.Errorf("nfqdelay: queued packet: %v", err)
	}
	if !found {
		return 0, errors.New("nfqdelay: queued packet without a packet header")
	}
	return id, nil
}
