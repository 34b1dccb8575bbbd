package capture

import "time"

// A ClientHello with post-quantum key shares (X25519MLKEM768, on by default
// in current browsers) is about 1.8 KB: over TCP it spans two segments, and
// browsers permute extension order, so the server name is often in the
// second. The first segment of such a ClientHello is kept, per flow, until
// the segments after it complete the record.
const (
	defaultMaxTLSFlows = 256
	// defaultMaxTLSBytes bounds the ClientHello bytes buffered over all
	// flows; the oldest flows are dropped first.
	defaultMaxTLSBytes = 1 << 20
	// maxClientHelloRecord is the largest TLS record (RFC 8446 section
	// 5.1: 2^14 bytes of fragment) with its header.
	maxClientHelloRecord = tlsRecordHeaderLength + 16<<10
	// tlsFlowTTL is how long, in packet time, the start of a ClientHello
	// waits for the rest; its segments leave the client back to back.
	tlsFlowTTL = 10 * time.Second
	// tlsBufferReuse is the largest buffer kept for the next flow, so a
	// few oversized ClientHellos do not pin memory.
	tlsBufferReuse  = 4 << 10
	maxFreeTLSFlows = 32

	tlsRecordHeaderLength    = 5
	tlsHandshakeClientHello  = 1
	tlsRecordVersionMajor    = 3
	tlsHandshakeTypeAtOffset = tlsRecordHeaderLength
)

// tlsFlow is the start of one ClientHello that did not fit its segment.
type tlsFlow struct {
	nextSeq uint32
	// need is the length of the ClientHello's record, header included:
	// once that many bytes are here, more cannot help.
	need    int
	hello   []byte
	started time.Time
	order   uint64 // the table's clock when the flow started; packet times may tie
}

// tlsFlowTable holds unfinished ClientHellos, bounded in flows and bytes.
// Finished flows go to a free list so their buffers are reused.
type tlsFlowTable struct {
	maxFlows, maxBytes int
	bytes              int
	clock              uint64
	flows              map[flowKey]*tlsFlow
	free               []*tlsFlow
}

func newTLSFlowTable(maxFlows, maxBytes int) tlsFlowTable {
	return tlsFlowTable{
		maxFlows: maxFlows, maxBytes: maxBytes,
		flows: make(map[flowKey]*tlsFlow),
		free:  make([]*tlsFlow, 0, maxFreeTLSFlows),
	}
}

// release drops the flow of key and keeps its buffer for reuse.
func (t *tlsFlowTable) release(key flowKey, f *tlsFlow) {
	t.bytes -= len(f.hello)
	delete(t.flows, key)
	if cap(f.hello) <= tlsBufferReuse && len(t.free) < cap(t.free) {
		f.hello = f.hello[:0]
		t.free = append(t.free, f)
	}
}

// oldest returns the flow that started first, other than keep.
func (t *tlsFlowTable) oldest(keep flowKey) (flowKey, *tlsFlow) {
	return oldestFlow(t.flows, keep, func(f *tlsFlow) uint64 { return f.order })
}

// clientHelloRecordLength returns the length, header included, of the TLS
// record that starts payload when it is a handshake record that begins with
// a ClientHello (or is too short to tell), and no more than a TLS record may
// be.
func clientHelloRecordLength(payload []byte) (int, bool) {
	if len(payload) < tlsRecordHeaderLength || payload[0] != tlsRecordHandshake || payload[1] != tlsRecordVersionMajor {
		return 0, false
	}
	if len(payload) > tlsHandshakeTypeAtOffset && payload[tlsHandshakeTypeAtOffset] != tlsHandshakeClientHello {
		return 0, false
	}
	n := tlsRecordHeaderLength + (int(payload[3])<<8 | int(payload[4]))
	return n, n <= maxClientHelloRecord
}

// handleTLSSegment looks for a server name in the payload of d.tcp, a
// segment of the given flow sent to port 443. A segment that continues a
// buffered ClientHello is appended to it; one that starts a ClientHello is
// read on its own and, when the ClientHello goes on past it, buffered.
// Other segments cost one map lookup, and none while nothing is buffered.
func (d *Decoder) handleTLSSegment(key flowKey, ts time.Time, emit func(Observation)) {
	t := &d.tlsFlows
	payload := d.tcp.Payload
	seq := d.tcp.Seq
	if d.tcp.SYN {
		seq++ // the SYN takes one sequence number (TCP Fast Open carries data)
	}
	if len(t.flows) > 0 {
		if f := t.flows[key]; f != nil {
			if d.continueTLSFlow(key, f, seq, payload, ts, emit) {
				return
			}
		}
	}

	if raw, ok := d.SNI(payload, false); ok {
		d.emitSNI(raw, ts, emit)
		return
	}
	need, ok := clientHelloRecordLength(payload)
	if !ok || need <= len(payload) {
		return
	}
	f := d.newTLSFlow(key)
	if f == nil {
		return
	}
	f.need = need
	f.nextSeq = seq + uint32(len(payload))
	f.started = ts
	t.clock++
	f.order = t.clock
	f.hello = append(f.hello[:0], payload...)
	t.bytes += len(payload)
	for t.bytes > t.maxBytes {
		k, old := t.oldest(key)
		if old == nil {
			break
		}
		d.stats.Errors.TLSEvicted++
		t.release(k, old)
	}
}

// continueTLSFlow appends a segment to the buffered ClientHello f and reads
// it again. It reports whether the segment was used; false means f was
// dropped (a gap, a new connection, or too old) and the segment should be
// looked at as the possible start of a new ClientHello.
func (d *Decoder) continueTLSFlow(key flowKey, f *tlsFlow, seq uint32, payload []byte, ts time.Time, emit func(Observation)) bool {
	t := &d.tlsFlows
	if d.tcp.SYN || ts.Sub(f.started) > tlsFlowTTL {
		d.stats.Errors.TLSEvicted++
		t.release(key, f)
		return false
	}
	if seq != f.nextSeq {
		behind := f.nextSeq - seq // bytes of this segment already buffered
		if int32(behind) <= 0 {
			// Bytes are missing: this ClientHello cannot be completed.
			d.stats.Errors.TLSGap++
			t.release(key, f)
			return false
		}
		if int(behind) >= len(payload) {
			return true // a retransmission of bytes we have
		}
		payload = payload[behind:]
	}
	take := min(len(payload), f.need-len(f.hello))
	f.hello = append(f.hello, payload[:take]...)
	t.bytes += take
	f.nextSeq += uint32(len(payload))

	if raw, ok := d.SNI(f.hello, false); ok {
		t.release(key, f)
		if d.emitSNI(raw, ts, emit) {
			d.stats.SNIReassembled++
		}
		return true
	}
	if len(f.hello) >= f.need {
		// The whole record is here and holds no usable name.
		t.release(key, f)
	}
	return true
}

// newTLSFlow returns a fresh flow for key, evicting the oldest when the
// table is full, or nil when no room can be made.
func (d *Decoder) newTLSFlow(key flowKey) *tlsFlow {
	t := &d.tlsFlows
	for len(t.flows) >= t.maxFlows {
		k, old := t.oldest(key)
		if old == nil {
			return nil
		}
		d.stats.Errors.TLSEvicted++
		t.release(k, old)
	}
	var f *tlsFlow
	if n := len(t.free); n > 0 {
		f = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		f = &tlsFlow{hello: make([]byte, 0, tlsBufferReuse)}
	}
	t.flows[key] = f
	return f
}
