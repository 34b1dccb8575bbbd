package capture

import (
	"encoding/binary"
	"time"
)

// DNS over TCP (RFC 1035 section 4.2.2) prefixes every message with a
// two-byte length. Several messages may share a segment and one message may
// span segments, so each direction of a flow keeps the bytes of an
// unfinished message until the rest arrives.
const (
	defaultMaxTCPFlows = 256
	// defaultMaxTCPBytes bounds the bytes buffered over all flows. One
	// flow holds at most one unfinished message (up to 2+65535 bytes) plus
	// the segment that is being appended.
	defaultMaxTCPBytes   = 2 << 20
	maxDNSOverTCPMessage = 2 + 65535
)

type flowKey struct {
	src, dst         [16]byte
	srcPort, dstPort uint16
	v6               bool
}

type tcpFlow struct {
	nextSeq  uint32
	pending  []byte // an unfinished message, length prefix included
	lastUsed uint64
}

// flowTable holds the unfinished DNS over TCP messages, bounded in flows and
// bytes; the least recently used flow is evicted first.
type flowTable struct {
	maxFlows, maxBytes int
	bytes              int
	clock              uint64
	flows              map[flowKey]*tcpFlow
}

func newFlowTable(maxFlows, maxBytes int) flowTable {
	return flowTable{maxFlows: maxFlows, maxBytes: maxBytes, flows: make(map[flowKey]*tcpFlow)}
}

func (t *flowTable) remove(key flowKey, f *tcpFlow) {
	t.bytes -= len(f.pending)
	delete(t.flows, key)
}

// evictOldest drops the least recently used flow other than keep.
func (t *flowTable) evictOldest(keep flowKey) bool {
	k, oldest := oldestFlow(t.flows, keep, func(f *tcpFlow) uint64 { return f.lastUsed })
	if oldest == nil {
		return false
	}
	t.remove(k, oldest)
	return true
}

// oldestFlow returns the flow of flows other than keep whose clock is
// lowest, or nil when there is none. A linear scan is fine: the tables are
// small and eviction is rare.
func oldestFlow[F any](flows map[flowKey]*F, keep flowKey, clock func(*F) uint64) (flowKey, *F) {
	var (
		oldestKey flowKey
		oldest    *F
	)
	for k, f := range flows {
		if k != keep && (oldest == nil || clock(f) < clock(oldest)) {
			oldestKey, oldest = k, f
		}
	}
	return oldestKey, oldest
}

// handleDNSOverTCP feeds the payload of d.tcp, of the given flow, to the
// flow's reassembly and decodes every complete message.
func (d *Decoder) handleDNSOverTCP(key flowKey, ts time.Time, emit func(Observation)) {
	t := &d.tcpFlows
	seg := &d.tcp
	payload := seg.Payload
	seq := seg.Seq
	f := t.flows[key]
	if seg.SYN {
		if f != nil {
			t.remove(key, f)
			f = nil
		}
		seq++ // the SYN takes one sequence number
	}
	if f != nil && seq != f.nextSeq {
		behind := f.nextSeq - seq // bytes of this segment we already have
		if int32(behind) > 0 {
			if int(behind) >= len(payload) {
				payload = nil // a retransmission of old data
			} else {
				payload = payload[behind:]
			}
		} else {
			// Bytes are missing: the unfinished message cannot be
			// completed. Start again at this segment.
			d.stats.Errors.TCPGap++
			t.remove(key, f)
			f = nil
		}
	}

	if len(payload) > 0 {
		if f == nil {
			// Fast path: whole messages in one segment need no state.
			rest := d.consumeDNSOverTCP(payload, ts, emit)
			if len(rest) > 0 {
				f = d.newTCPFlow(key)
				if f != nil {
					f.pending = append(f.pending, rest...)
					t.bytes += len(rest)
					f.nextSeq = seq + uint32(len(payload))
				}
			}
		} else {
			f.pending = append(f.pending, payload...)
			t.bytes += len(payload)
			f.nextSeq += uint32(len(payload))
			rest := d.consumeDNSOverTCP(f.pending, ts, emit)
			t.bytes -= len(f.pending) - len(rest)
			f.pending = f.pending[:copy(f.pending, rest)]
		}
	}
	if f != nil {
		t.clock++
		f.lastUsed = t.clock
		if len(f.pending) == 0 || seg.FIN || seg.RST {
			t.remove(key, f)
			f = nil
		}
	}
	for t.bytes > t.maxBytes && t.evictOldest(key) {
		d.stats.Errors.TCPEvicted++
	}
	if t.bytes > t.maxBytes && f != nil {
		d.stats.Errors.TCPEvicted++
		t.remove(key, f)
	}
}

func (d *Decoder) newTCPFlow(key flowKey) *tcpFlow {
	t := &d.tcpFlows
	for len(t.flows) >= t.maxFlows {
		if !t.evictOldest(key) {
			return nil
		}
		d.stats.Errors.TCPEvicted++
	}
	f := &tcpFlow{}
	t.flows[key] = f
	return f
}

// consumeDNSOverTCP decodes the complete length-prefixed messages at the
// start of stream and returns what is left: the start of an unfinished
// message, or nothing.
func (d *Decoder) consumeDNSOverTCP(stream []byte, ts time.Time, emit func(Observation)) []byte {
	for len(stream) >= 2 {
		n := int(binary.BigEndian.Uint16(stream))
		if n == 0 {
			// An empty message cannot be DNS; the stream is not
			// something we can follow.
			d.stats.Errors.NotDNS++
			return nil
		}
		if len(stream) < 2+n {
			break
		}
		d.handleDNSMessage(stream[2:2+n], ts, emit)
		stream = stream[2+n:]
	}
	return stream
}
