package capture

import (
	"fmt"
	"slices"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Link-header lengths the capture filter understands: the filter reads the
// IP header at this offset.
const (
	linkHeaderNone     = 0  // Linux SOCK_DGRAM sockets and raw-IP devices
	linkHeaderEthernet = 14 // Ethernet without VLAN tags
	linkHeaderNull     = 4  // BSD NULL/loopback: the address family, host order
)

// Values of the Linux kernel ABI used by the loopback rule of the filter
// (linux/if_packet.h, linux/if_arp.h).
const (
	packetOutgoing = 4   // PACKET_OUTGOING
	arphrdLoopback = 772 // ARPHRD_LOOPBACK
)

// TCP header flag bits of byte 13.
const tcpFlagPSH = 0x08

// TLS record content types that start a record.
const (
	tlsRecordHandshake = 0x16
	tlsRecordAppData   = 0x17
)

// filterConfig describes the capture a filter is built for.
type filterConfig struct {
	// linkHeader is the length of the link header in front of the IP
	// header (one of the linkHeader constants).
	linkHeader uint32
	// ethernet makes the filter check the EtherType at offset 12 instead
	// of trusting the IP version nibble alone.
	ethernet bool
	// snapLen is how many bytes of a kept packet are kept.
	snapLen int
	// dropLoopbackOutgoing adds the Linux loopback de-duplication (see
	// live_linux.go); it reads kernel ancillary data that neither BSD BPF
	// nor bpf.VM has, so only Linux sockets set it.
	dropLoopbackOutgoing bool
}

// captureFilter returns the classic BPF program attached to every capture
// socket or device. After the link header of c it keeps, for IPv4 and IPv6:
//   - UDP and TCP to or from port 53 (DNS);
//   - TCP to port 443 with a payload that starts a TLS handshake record
//     (0x16), so that a ClientHello passes and the bulk of HTTPS does not;
//   - TCP to port 443 with a payload, PSH set and a first byte other than
//     0x17 (TLS application data): the second segment of a ClientHello
//     split across segments (post-quantum key shares make ClientHellos
//     about 1.8 KB) looks so; the decoder keeps a small table of flows
//     with a partial ClientHello and drops such segments of other flows.
//     Bulk HTTPS is application data, or segments without PSH in between;
//   - UDP to port 443 with a QUIC long header (first bit set), which
//     Initial packets have and the bulk of QUIC (short headers) has not;
//   - IPv4 fragments after the first and IPv6 packets whose first extension
//     header is a fragment header, since a large DNS response arrives so and
//     the decoder reassembles it.
//
// A load past the end of the packet ends the program with "drop", both in
// the kernels and in bpf.VM.
func captureFilter(c filterConfig) ([]bpf.Instruction, error) {
	var a bpfAsm
	const accept, drop = "accept", "drop"
	l := c.linkHeader
	if c.dropLoopbackOutgoing {
		a.add(bpf.LoadExtension{Num: bpf.ExtType})
		a.jump(bpf.JumpEqual, packetOutgoing, "outgoing", "dispatch")
		a.label("outgoing")
		a.add(bpf.LoadExtension{Num: bpf.ExtLinkLayerType})
		a.jump(bpf.JumpEqual, arphrdLoopback, drop, "dispatch")
		a.label("dispatch")
	}
	if c.ethernet {
		// The EtherType and the version nibble must agree.
		a.add(bpf.LoadAbsolute{Off: 12, Size: 2})
		a.jump(bpf.JumpEqual, uint32(layers.EthernetTypeIPv4), "ether4", "")
		a.jump(bpf.JumpEqual, uint32(layers.EthernetTypeIPv6), "ether6", drop)
		a.label("ether4")
		a.add(bpf.LoadAbsolute{Off: l, Size: 1})
		a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		a.jump(bpf.JumpEqual, 4, "ipv4", drop)
		a.label("ether6")
		a.add(bpf.LoadAbsolute{Off: l, Size: 1})
		a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		a.jump(bpf.JumpEqual, 6, "ipv6", drop)
	} else {
		// Dispatch on the IP version nibble: raw IP has nothing else, and
		// the NULL header's address family is in host byte order with
		// values that differ between BSDs.
		a.add(bpf.LoadAbsolute{Off: l, Size: 1})
		a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		a.jump(bpf.JumpEqual, 4, "ipv4", "")
		a.jump(bpf.JumpEqual, 6, "ipv6", drop)
	}

	// IPv4: X = IP header length; ports at [X+l], [X+l+2].
	a.label("ipv4")
	a.add(bpf.LoadAbsolute{Off: l + 9, Size: 1}) // protocol
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolUDP), "udp4", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolTCP), "tcp4", drop)
	a.label("udp4")
	a.add(bpf.LoadAbsolute{Off: l + 6, Size: 2}) // flags and fragment offset
	a.jump(bpf.JumpBitsSet, 0x1fff, accept, "")
	a.add(bpf.LoadMemShift{Off: l})
	a.ports(bpf.LoadIndirect{Off: l, Size: 2}, bpf.LoadIndirect{Off: l + 2, Size: 2}, "quic4")
	a.label("quic4")
	a.add(bpf.LoadIndirect{Off: l + 8, Size: 1}) // first byte of the UDP payload
	a.jump(bpf.JumpBitsSet, 0x80, accept, drop)
	a.label("tcp4")
	a.add(bpf.LoadAbsolute{Off: l + 6, Size: 2})
	a.jump(bpf.JumpBitsSet, 0x1fff, accept, "")
	a.add(bpf.LoadMemShift{Off: l})
	a.ports(bpf.LoadIndirect{Off: l, Size: 2}, bpf.LoadIndirect{Off: l + 2, Size: 2}, "tls4")
	a.label("tls4")
	// The IPv4 total length counts from the IP header, as X does.
	a.tlsPayload("4", l, l+2)

	// IPv6: fixed 40-byte header; extension headers other than a fragment
	// header are rare on DNS and TLS and are not followed.
	const ip6 = 40
	a.label("ipv6")
	a.add(bpf.LoadAbsolute{Off: l + 6, Size: 1}) // next header
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolUDP), "udp6", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolTCP), "tcp6", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolIPv6Fragment), accept, drop)
	a.label("udp6")
	a.ports(bpf.LoadAbsolute{Off: l + ip6, Size: 2}, bpf.LoadAbsolute{Off: l + ip6 + 2, Size: 2}, "quic6")
	a.label("quic6")
	a.add(bpf.LoadAbsolute{Off: l + ip6 + 8, Size: 1})
	a.jump(bpf.JumpBitsSet, 0x80, accept, drop)
	a.label("tcp6")
	a.ports(bpf.LoadAbsolute{Off: l + ip6, Size: 2}, bpf.LoadAbsolute{Off: l + ip6 + 2, Size: 2}, "tls6")
	a.label("tls6")
	// The IPv6 payload length counts from the end of the fixed header, and
	// X starts there: X = 0.
	a.add(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
	a.tlsPayload("6", l+ip6, l+4)

	a.label(accept)
	a.add(bpf.RetConstant{Val: uint32(c.snapLen)})
	a.label(drop)
	a.add(bpf.RetConstant{Val: 0})
	return a.resolve()
}

// bpfAsm builds a classic BPF program with named jump targets, so that the
// filter reads as its branches rather than as hand-counted skips.
type bpfAsm struct {
	prog   []bpf.Instruction
	labels map[string]int
	jumps  []bpfJump
}

// bpfJump is a conditional jump at prog[at] whose targets are labels; ""
// means the next instruction.
type bpfJump struct {
	at              int
	ifTrue, ifFalse string
}

func (a *bpfAsm) add(ins bpf.Instruction) { a.prog = append(a.prog, ins) }

func (a *bpfAsm) label(name string) {
	if a.labels == nil {
		a.labels = make(map[string]int)
	}
	a.labels[name] = len(a.prog)
}

func (a *bpfAsm) jump(cond bpf.JumpTest, val uint32, ifTrue, ifFalse string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.prog), ifTrue: ifTrue, ifFalse: ifFalse})
	a.add(bpf.JumpIf{Cond: cond, Val: val})
}

// ports accepts a packet whose source or destination port is DNS, goes to
// tls when the destination port is 443, and drops it otherwise.
func (a *bpfAsm) ports(src, dst bpf.Instruction, tls string) {
	a.add(src)
	a.jump(bpf.JumpEqual, dnsPort, "accept", "")
	a.add(dst)
	a.jump(bpf.JumpEqual, dnsPort, "accept", "")
	a.jump(bpf.JumpEqual, tlsPort, tls, "drop")
}

// tlsPayload decides on a TCP segment to port 443. On entry X+base is the
// offset of the TCP header, and the 16-bit length at lenOff counts the
// bytes from offset base on. It keeps segments that start a TLS handshake
// record, and segments with PSH set whose payload does not start with TLS
// application data (see captureFilter).
func (a *bpfAsm) tlsPayload(suffix string, base, lenOff uint32) {
	flags, payload := "flags"+suffix, "payload"+suffix
	a.add(bpf.LoadIndirect{Off: base + 13, Size: 1})
	a.add(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	// X += TCP header length (data offset, the high nibble of byte 12, in
	// 32-bit words), so [X+base] is the first payload byte.
	a.add(bpf.LoadIndirect{Off: base + 12, Size: 1})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3c})
	a.add(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	a.add(bpf.TAX{})
	// No payload: a SYN or an ACK. Ethernet pads short frames, so the
	// length field, not the frame, tells whether there is one.
	a.add(bpf.LoadAbsolute{Off: lenOff, Size: 2})
	a.add(bpf.ALUOpX{Op: bpf.ALUOpSub})
	a.jump(bpf.JumpGreaterThan, 0, payload, "drop")
	a.label(payload)
	a.add(bpf.LoadIndirect{Off: base, Size: 1})
	a.jump(bpf.JumpEqual, tlsRecordHandshake, "accept", "")
	a.jump(bpf.JumpEqual, tlsRecordAppData, "drop", flags)
	a.label(flags)
	a.add(bpf.LoadScratch{Dst: bpf.RegA, N: 0})
	a.jump(bpf.JumpBitsSet, tcpFlagPSH, "accept", "drop")
}

func (a *bpfAsm) resolve() ([]bpf.Instruction, error) {
	skip := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := a.labels[label]
		if !ok {
			return 0, fmt.Errorf("capture: filter: undefined label %q", label)
		}
		n := to - from - 1
		if n < 0 || n > 255 {
			return 0, fmt.Errorf("capture: filter: jump to %q out of range (%d)", label, n)
		}
		return uint8(n), nil
	}
	prog := slices.Clone(a.prog)
	for _, j := range a.jumps {
		ins := prog[j.at].(bpf.JumpIf)
		var err error
		if ins.SkipTrue, err = skip(j.at, j.ifTrue); err != nil {
			return nil, err
		}
		if ins.SkipFalse, err = skip(j.at, j.ifFalse); err != nil {
			return nil, err
		}
		prog[j.at] = ins
	}
	return prog, nil
}

// linkFilterConfig returns the filter configuration for packets of link
// type link, and false for link types the filter cannot read.
func linkFilterConfig(link layers.LinkType, snapLen int) (filterConfig, bool) {
	switch link {
	case layers.LinkTypeEthernet:
		return filterConfig{linkHeader: linkHeaderEthernet, ethernet: true, snapLen: snapLen}, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return filterConfig{linkHeader: linkHeaderNull, snapLen: snapLen}, true
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return filterConfig{linkHeader: linkHeaderNone, snapLen: snapLen}, true
	}
	return filterConfig{}, false
}
