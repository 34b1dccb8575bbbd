//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
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

// Live captures DNS and, when o.SNI is set, TLS and QUIC server names on the
// interfaces of o until ctx ends, calling emit for every name found. emit is
// never called concurrently. It returns the counters of all captures,
// including packets the kernel dropped. Opening the capture needs
// CAP_NET_RAW; failing to open any capture at the start is an error, while
// later failures are logged and retried.
func Live(ctx context.Context, o LiveOptions, emit func(Observation)) (Stats, error) {
	o = o.withDefaults()
	prog, err := captureFilter(filterConfig{linkHeader: linkHeaderNone, snapLen: o.SnapLen, dropLoopbackOutgoing: true})
	if err != nil {
		return Stats{}, err
	}
	filter, err := bpf.Assemble(prog)
	if err != nil {
		return Stats{}, fmt.Errorf("capture: assemble filter: %w", err)
	}
	open := func(key liveKey) (packetReader, error) {
		tp, filteredFrom, err := openPacketSocket(key.name, filter)
		if err != nil {
			return nil, err
		}
		return &packetSocket{tp: tp, filteredFrom: filteredFrom}, nil
	}
	return newLiveSupervisor(o, func() ([]liveKey, error) { return wantedLinux(o.Interfaces) }, open, emit).run(ctx)
}

// wantedLinux lists the sockets that should be open now: one unbound
// socket when no interface is named, else one per named interface that is
// up.
func wantedLinux(names []string) ([]liveKey, error) {
	if len(names) == 0 {
		return []liveKey{{}}, nil
	}
	return upInterfaces(names)
}

// openPacketSocket opens an AF_PACKET socket on the named interface ("" for
// all) with the capture filter attached. It also returns the time the
// filter was in place from: afpacket binds the socket and maps its ring
// before a filter can be attached, so the ring may start with packets the
// filter never saw.
func openPacketSocket(name string, filter []bpf.RawInstruction) (*afpacket.TPacket, time.Time, error) {
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
		return nil, time.Time{}, fmt.Errorf("capture: open packet socket on %s: %w", where, err)
	}
	if err := tp.SetBPF(filter); err != nil {
		tp.Close()
		return nil, time.Time{}, fmt.Errorf("capture: attach filter on %s: %w", where, err)
	}
	return tp, time.Now(), nil
}

// packetSocket reads an AF_PACKET socket for the supervisor.
type packetSocket struct {
	tp *afpacket.TPacket
	// filteredFrom is when the capture filter was attached; packets the
	// kernel stamped before it were not filtered and are skipped. They
	// would otherwise include the outgoing loopback copy the filter drops,
	// and a name counted twice. Zero once a packet from after it was read
	// (the ring is in arrival order), or once unfilteredWindow has passed:
	// the stamps are wall-clock time, and a clock stepped back right after
	// the socket opened (NTP at boot or wake) must not make the capture
	// drop packets for as long as the step.
	filteredFrom time.Time
}

// unfilteredWindow bounds how long after the filter is attached packets can
// still be unfiltered ones: they were queued in the ring before it, and a
// ring block is handed over after blockTimeout at the latest.
const unfilteredWindow = 4 * blockTimeout

// linkType is raw IP: SOCK_DGRAM sockets strip the link header.
func (p *packetSocket) linkType() layers.LinkType { return layers.LinkTypeRaw }

func (p *packetSocket) readPacket() ([]byte, time.Time, error) {
	for {
		data, ci, err := p.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil, time.Time{}, errReadTimeout
		}
		if err == nil && !p.filteredFrom.IsZero() {
			// time.Since reads the monotonic clock filteredFrom carries.
			if ci.Timestamp.Before(p.filteredFrom) && time.Since(p.filteredFrom) < unfilteredWindow {
				continue
			}
			p.filteredFrom = time.Time{}
		}
		return data, ci.Timestamp, err
	}
}

// dropped reads the kernel's counters, which afpacket accumulates across
// calls.
func (p *packetSocket) dropped() (uint64, error) {
	v2, v3, err := p.tp.SocketStats()
	if err != nil {
		return 0, err
	}
	return uint64(v2.Drops()) + uint64(v3.Drops()), nil
}

func (p *packetSocket) close() error {
	p.tp.Close()
	return nil
}
