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
