//go:build linux

package capture

import (
	"fmt"
	"slices"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// captureFilter returns the classic BPF program attached to every capture
// socket. It sees packets from the network header on (SOCK_DGRAM) and keeps,
// for IPv4 and IPv6:
//   - UDP and TCP to or from port 53 (DNS);
//   - TCP to port 443 whose payload starts a TLS handshake record (0x16), so
//     that a ClientHello passes and the bulk of HTTPS does not;
//   - UDP to port 443 with a QUIC long header (first bit set), which
//     Initial packets have and the bulk of QUIC (short headers) has not;
//   - IPv4 fragments after the first and IPv6 packets whose first extension
//     header is a fragment header, since a large DNS response arrives so and
//     the decoder reassembles it.
//
// Kept packets are cut to snapLen bytes. dropLoopbackOutgoing adds the
// loopback de-duplication (see the package notes above); it reads kernel
// ancillary data that bpf.VM cannot emulate, so tests leave it out.
func captureFilter(snapLen int, dropLoopbackOutgoing bool) ([]bpf.Instruction, error) {
	var a bpfAsm
	const accept, drop = "accept", "drop"
	if dropLoopbackOutgoing {
		a.add(bpf.LoadExtension{Num: bpf.ExtType})
		a.jump(bpf.JumpEqual, packetOutgoing, "outgoing", "dispatch")
		a.label("outgoing")
		a.add(bpf.LoadExtension{Num: bpf.ExtLinkLayerType})
		a.jump(bpf.JumpEqual, arphrdLoopback, drop, "dispatch")
		a.label("dispatch")
	}
	// Dispatch on the IP version nibble.
	a.add(bpf.LoadAbsolute{Off: 0, Size: 1})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	a.jump(bpf.JumpEqual, 4, "ipv4", "")
	a.jump(bpf.JumpEqual, 6, "ipv6", drop)

	// IPv4: X = header length; ports at [X], [X+2].
	a.label("ipv4")
	a.add(bpf.LoadAbsolute{Off: 9, Size: 1}) // protocol
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolUDP), "udp4", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolTCP), "tcp4", drop)
	a.label("udp4")
	a.add(bpf.LoadAbsolute{Off: 6, Size: 2}) // flags and fragment offset
	a.jump(bpf.JumpBitsSet, 0x1fff, accept, "")
	a.add(bpf.LoadMemShift{Off: 0})
	a.ports(bpf.LoadIndirect{Off: 0, Size: 2}, bpf.LoadIndirect{Off: 2, Size: 2}, "quic4")
	a.label("quic4")
	a.add(bpf.LoadIndirect{Off: 8, Size: 1}) // first byte of the UDP payload
	a.jump(bpf.JumpBitsSet, 0x80, accept, drop)
	a.label("tcp4")
	a.add(bpf.LoadAbsolute{Off: 6, Size: 2})
	a.jump(bpf.JumpBitsSet, 0x1fff, accept, "")
	a.add(bpf.LoadMemShift{Off: 0})
	a.ports(bpf.LoadIndirect{Off: 0, Size: 2}, bpf.LoadIndirect{Off: 2, Size: 2}, "tls4")
	a.label("tls4")
	// X += TCP header length (data offset, the high nibble of byte 12, in
	// 32-bit words), so [X] is the first payload byte.
	a.add(bpf.LoadIndirect{Off: 12, Size: 1})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3c})
	a.add(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	a.add(bpf.TAX{})
	a.add(bpf.LoadIndirect{Off: 0, Size: 1})
	a.jump(bpf.JumpEqual, 0x16, accept, drop)

	// IPv6: fixed 40-byte header; extension headers other than a fragment
	// header are rare on DNS and TLS and are not followed.
	const ip6 = 40
	a.label("ipv6")
	a.add(bpf.LoadAbsolute{Off: 6, Size: 1}) // next header
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolUDP), "udp6", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolTCP), "tcp6", "")
	a.jump(bpf.JumpEqual, uint32(layers.IPProtocolIPv6Fragment), accept, drop)
	a.label("udp6")
	a.ports(bpf.LoadAbsolute{Off: ip6, Size: 2}, bpf.LoadAbsolute{Off: ip6 + 2, Size: 2}, "quic6")
	a.label("quic6")
	a.add(bpf.LoadAbsolute{Off: ip6 + 8, Size: 1})
	a.jump(bpf.JumpBitsSet, 0x80, accept, drop)
	a.label("tcp6")
	a.ports(bpf.LoadAbsolute{Off: ip6, Size: 2}, bpf.LoadAbsolute{Off: ip6 + 2, Size: 2}, "tls6")
	a.label("tls6")
	a.add(bpf.LoadAbsolute{Off: ip6 + 12, Size: 1})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 2})
	a.add(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3c})
	a.add(bpf.TAX{})
	a.add(bpf.LoadIndirect{Off: ip6, Size: 1})
	a.jump(bpf.JumpEqual, 0x16, accept, drop)

	a.label(accept)
	a.add(bpf.RetConstant{Val: uint32(snapLen)})
	a.label(drop)
	a.add(bpf.RetConstant{Val: 0})
	return a.resolve()
}

// bpfAsm builds a classic BPF program with named jump targets, so that the
// filter reads as its branches rather than as hand-counted skips. A load
// past the end of the packet ends the program with "drop" in the kernel.
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
