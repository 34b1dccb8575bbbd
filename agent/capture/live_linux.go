//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Live capture on Linux uses AF_PACKET sockets of type SOCK_DGRAM: the
// kernel strips the link header, so every interface (Ethernet, Wi-Fi,
// loopback, and the header-less tun devices of VPNs) yields plain IP
// packets, one filter fits all of them and one Decoder of LinkTypeRaw reads
// them.
//
// With no interfaces named, one socket is left unbound, which the kernel
// treats as "all interfaces": an interface that comes up (a Wi-Fi switch, a
// VPN) is captured from its first packet, where polling for it would miss
// the lookups made right after it connects. Named interfaces get one socket
// each, re-attached every reattachInterval.
//
// Loopback duplicates: a packet sent over "lo" passes the capture twice,
// once leaving (PACKET_OUTGOING) and once arriving (PACKET_HOST). The filter
// drops the outgoing copy on loopback devices only; on other devices the
// outgoing packets are this host's own queries and are kept.

// Ring buffer geometry: 8 blocks of 128 KiB. The filter passes only DNS and
// the opening packets of TLS and QUIC flows, so 1 MiB per socket absorbs
// bursts without weighing on the agent's memory budget. A block is handed
// over when full or after blockTimeout, which bounds the capture latency.
const (
	ringBlockSize = 128 << 10
	ringNumBlocks = 8
	ringFrameSize = 4096
	blockTimeout  = 50 * time.Millisecond
	// pollTimeout bounds how long a capture goroutine takes to notice that
	// it must stop; closing a socket another goroutine polls is unsafe.
	pollTimeout = 200 * time.Millisecond
)

// Values of the Linux kernel ABI used by the filter (linux/if_packet.h,
// linux/if_arp.h).
const (
	packetOutgoing = 4   // PACKET_OUTGOING
	arphrdLoopback = 772 // ARPHRD_LOOPBACK
)

// Live captures DNS and, when o.SNI is set, TLS and QUIC server names on the
// interfaces of o until ctx ends, calling emit for every name found. emit is
// never called concurrently. It returns the counters of all captures,
// including packets the kernel dropped. Opening the capture needs
// CAP_NET_RAW; failing to open any capture at the start is an error, while
// later failures are logged and retried.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	o = o.withDefaults()
	prog, err := captureFilter(o.SnapLen, true)
	if err != nil {
		return Stats{}, err
	}
	filter, err := bpf.Assemble(prog)
	if err != nil {
		return Stats{}, fmt.Errorf("capture: assemble filter: %w", err)
	}
	var emitMu sync.Mutex
	s := &liveSupervisor{
		opts:    o,
		filter:  filter,
		running: make(map[liveKey]*liveCapture),
		emit: func(obs Observation) {
			emitMu.Lock()
			defer emitMu.Unlock()
			emit(obs)
		},
	}
	defer s.stopAll()
	if err := s.reconcile(ctx, true); err != nil {
		s.stopAll()
		return s.totals(), err
	}
	ticker := time.NewTicker(reattachInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			return s.totals(), nil
		case <-ticker.C:
			_ = s.reconcile(ctx, false)
		}
	}
}

// liveKey identifies one capture socket. An interface removed and created
// again under the same name gets a new index, and so a new socket.
type liveKey struct {
	name  string // "" means all interfaces
	index int
}

func (k liveKey) String() string {
	if k.name == "" {
		return "all interfaces"
	}
	return k.name
}

type liveCapture struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// liveSupervisor starts and stops one capture goroutine per socket.
type liveSupervisor struct {
	opts   LiveOptions
	filter []bpf.RawInstruction
	emit   func(Observation)

	running map[liveKey]*liveCapture // touched by the Live goroutine only
	wg      sync.WaitGroup

	mu    sync.Mutex // guards total
	total Stats      // counters of captures that have ended
}

// wanted lists the sockets that should be open now.
func (s *liveSupervisor) wanted() ([]liveKey, error) {
	if len(s.opts.Interfaces) == 0 {
		return []liveKey{{}}, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: list interfaces: %w", err)
	}
	var keys []liveKey
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp != 0 && slices.Contains(s.opts.Interfaces, iface.Name) {
			keys = append(keys, liveKey{name: iface.Name, index: iface.Index})
		}
	}
	return keys, nil
}

// reconcile stops captures that ended or whose interface went away and
// starts captures on interfaces that came up. At the start (initial) it
// fails when nothing could be opened.
func (s *liveSupervisor) reconcile(ctx context.Context, initial bool) error {
	keys, err := s.wanted()
	if err != nil {
		s.opts.Logger.Warn("capture: re-attach", "err", err)
		if initial {
			return err
		}
		return nil
	}
	for key, c := range s.running {
		ended := false
		select {
		case <-c.done:
			ended = true
		default:
		}
		if ended || !slices.Contains(keys, key) {
			c.cancel()
			<-c.done
			delete(s.running, key)
			s.opts.Logger.Info("capture: stopped", "interface", key.String())
		}
	}
	var errs []error
	for _, key := range keys {
		if _, ok := s.running[key]; ok {
			continue
		}
		if err := s.start(ctx, key); err != nil {
			s.opts.Logger.Warn("capture: start", "interface", key.String(), "err", err)
			errs = append(errs, err)
			continue
		}
		s.opts.Logger.Info("capture: started", "interface", key.String())
	}
	if initial && len(s.running) == 0 {
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		s.opts.Logger.Info("capture: no named interface is up yet; waiting", "interfaces", s.opts.Interfaces)
	}
	return nil
}

// start opens the socket for key and reads it on a new goroutine.
func (s *liveSupervisor) start(ctx context.Context, key liveKey) error {
	tp, err := openPacketSocket(key.name, s.filter)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &liveCapture{cancel: cancel, done: make(chan struct{})}
	s.running[key] = c
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(c.done)
		stats, err := readPackets(cctx, tp, s.opts.SNI, s.emit)
		if err != nil {
			s.opts.Logger.Warn("capture: read", "interface", key.String(), "err", err)
		}
		s.mu.Lock()
		s.total.add(stats)
		s.mu.Unlock()
	}()
	return nil
}

func (s *liveSupervisor) stopAll() {
	for key, c := range s.running {
		c.cancel()
		delete(s.running, key)
	}
	s.wg.Wait()
}

func (s *liveSupervisor) totals() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// openPacketSocket opens an AF_PACKET socket on the named interface ("" for
// all) with the capture filter attached.
func openPacketSocket(name string, filter []bpf.RawInstruction) (*afpacket.TPacket, error) {
	where := name
	if where == "" {
		where = "all interfaces"
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.OptSocketType(afpacket.SocketDgram),
		afpacket.OptFrameSize(ringFrameSize),
		afpacket.OptBlockSize(ringBlockSize),
		afpacket.OptNumBlocks(ringNumBlocks),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.OptPollTimeout(pollTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("capture: open packet socket on %s: %w", where, err)
	}
	// Packets that arrived between bind and here were not filtered; the
	// decoder copes with them, so they are not worth draining.
	if err := tp.SetBPF(filter); err != nil {
		tp.Close()
		return nil, fmt.Errorf("capture: attach filter on %s: %w", where, err)
	}
	return tp, nil
}

// readPackets decodes packets from tp until ctx ends or the socket fails,
// then closes tp. The returned Stats include the kernel's drop count.
func readPackets(ctx context.Context, tp *afpacket.TPacket, sni func([]byte, bool) (string, bool), emit func(Observation)) (Stats, error) {
	defer tp.Close()
	dec := NewDecoder(layers.LinkTypeRaw)
	dec.SNI = sni
	var readErr error
	for ctx.Err() == nil {
		data, ci, err := tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			continue
		}
		if err != nil {
			readErr = fmt.Errorf("capture: read packet: %w", err)
			break
		}
		dec.Decode(data, ci.Timestamp, emit)
	}
	stats := dec.Stats()
	v2, v3, err := tp.SocketStats()
	if err != nil {
		return stats, errors.Join(readErr, fmt.Errorf("capture: socket stats: %w", err))
	}
	stats.Dropped = uint64(v2.Drops()) + uint64(v3.Drops())
	return stats, readErr
}

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
