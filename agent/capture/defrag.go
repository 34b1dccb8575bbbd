package capture

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Large DNS responses (DNSSEC, long TXT or CNAME chains over EDNS) arrive as
// IP fragments. fragmentTable rebuilds them, bounded in datagrams, bytes and
// age; gopacket's ip4defrag is not used because it bounds neither the number
// of datagrams in flight nor their total size.
const (
	defaultMaxFragmentSets  = 64
	defaultMaxFragmentBytes = 1 << 20
	defaultFragmentTimeout  = 30 * time.Second
	maxIPDatagram           = 65535
	// maxFragmentPieces bounds the fragments of one datagram: a 64 KiB
	// datagram over a 1280-byte IPv6 minimum MTU needs 52. More means
	// tiny or repeated fragments, which would make every completeness check
	// a long walk.
	maxFragmentPieces = 64
)

type fragmentKey struct {
	src, dst [16]byte
	id       uint32
	protocol uint8
	v6       bool
}

type fragmentPiece struct {
	offset int
	data   []byte
}

type fragmentSet struct {
	first  time.Time
	pieces []fragmentPiece
	// total is the datagram payload length, known once the last fragment
	// (more-fragments clear) has arrived; -1 before.
	total int
	bytes int
}

type fragmentTable struct {
	maxSets, maxBytes int
	timeout           time.Duration
	bytes             int
	sets              map[fragmentKey]*fragmentSet
	assembled         []byte // reused output buffer
}

func newFragmentTable(maxSets, maxBytes int, timeout time.Duration) fragmentTable {
	return fragmentTable{
		maxSets: maxSets, maxBytes: maxBytes, timeout: timeout,
		sets: make(map[fragmentKey]*fragmentSet),
	}
}

func (t *fragmentTable) remove(key fragmentKey, s *fragmentSet) {
	t.bytes -= s.bytes
	delete(t.sets, key)
}

// expire drops sets older than the timeout and, while over a bound, the
// oldest set. It returns how many sets it dropped.
func (t *fragmentTable) expire(now time.Time, needRoom bool) int {
	dropped := 0
	for {
		var (
			oldestKey fragmentKey
			oldest    *fragmentSet
		)
		for k, s := range t.sets {
			if now.Sub(s.first) > t.timeout {
				t.remove(k, s)
				dropped++
				continue
			}
			if oldest == nil || s.first.Before(oldest.first) {
				oldestKey, oldest = k, s
			}
		}
		over := t.bytes > t.maxBytes || (needRoom && len(t.sets) >= t.maxSets)
		if !over || oldest == nil {
			return dropped
		}
		t.remove(oldestKey, oldest)
		dropped++
	}
}

// add stores one fragment and returns the rebuilt datagram payload when the
// set is complete. The result is valid until the next call.
func (t *fragmentTable) add(key fragmentKey, offset int, more bool, data []byte, now time.Time) (payload []byte, complete bool, evicted int, invalid bool) {
	end := offset + len(data)
	if end > maxIPDatagram || (more && len(data)%8 != 0) {
		return nil, false, 0, true
	}
	s := t.sets[key]
	if s == nil {
		evicted = t.expire(now, true)
		s = &fragmentSet{first: now, total: -1}
		t.sets[key] = s
	}
	if !more {
		if s.total >= 0 && s.total != end {
			t.remove(key, s)
			return nil, false, evicted, true
		}
		s.total = end
	}
	if s.total >= 0 && end > s.total {
		t.remove(key, s)
		return nil, false, evicted, true
	}
	if len(s.pieces) >= maxFragmentPieces {
		t.remove(key, s)
		return nil, false, evicted, true
	}
	s.pieces = append(s.pieces, fragmentPiece{offset: offset, data: append([]byte(nil), data...)})
	s.bytes += len(data)
	t.bytes += len(data)
	if t.bytes > t.maxBytes {
		evicted += t.expire(now, false)
		if t.sets[key] == nil {
			return nil, false, evicted, false
		}
	}
	if s.total < 0 {
		return nil, false, evicted, false
	}
	// Insertion sort by offset: a set has only a few pieces.
	for i := 1; i < len(s.pieces); i++ {
		for j := i; j > 0 && s.pieces[j].offset < s.pieces[j-1].offset; j-- {
			s.pieces[j], s.pieces[j-1] = s.pieces[j-1], s.pieces[j]
		}
	}
	covered := 0
	for _, p := range s.pieces {
		if p.offset > covered {
			return nil, false, evicted, false // a hole remains
		}
		covered = max(covered, p.offset+len(p.data))
	}
	if covered < s.total {
		return nil, false, evicted, false
	}
	if cap(t.assembled) < s.total {
		t.assembled = make([]byte, s.total)
	}
	out := t.assembled[:s.total]
	// Later pieces win on overlap; overlapping fragments are an attack
	// pattern against reassemblers, not something DNS servers send, and
	// we only read names from the result.
	for _, p := range s.pieces {
		copy(out[p.offset:], p.data)
	}
	t.remove(key, s)
	return out, true, evicted, false
}

// handleFragment feeds the fragment in the innermost IP layer to the table
// and decodes the transport layer of a rebuilt datagram.
func (d *Decoder) handleFragment(ip gopacket.LayerType, ts time.Time, emit func(Observation)) {
	var (
		key    fragmentKey
		offset int
		more   bool
		data   []byte
	)
	if ip == layers.LayerTypeIPv4 {
		copy(key.src[:], d.ip4.SrcIP)
		copy(key.dst[:], d.ip4.DstIP)
		key.id = uint32(d.ip4.Id)
		key.protocol = uint8(d.ip4.Protocol)
		offset = int(d.ip4.FragOffset) * 8
		more = d.ip4.Flags&layers.IPv4MoreFragments != 0
		data = d.ip4.Payload
	} else {
		copy(key.src[:], d.ip6.SrcIP)
		copy(key.dst[:], d.ip6.DstIP)
		key.v6 = true
		key.id = d.ip6frag.Identification
		key.protocol = uint8(d.ip6frag.NextHeader)
		offset = int(d.ip6frag.FragmentOffset) * 8
		more = d.ip6frag.MoreFragments
		data = d.ip6frag.Payload
	}
	payload, complete, evicted, invalid := d.fragments.add(key, offset, more, data, ts)
	d.stats.Errors.FragEvicted += uint64(evicted)
	if invalid {
		d.stats.Errors.FragInvalid++
	}
	if !complete {
		return
	}
	d.stats.Reassembled++
	switch layers.IPProtocol(key.protocol) {
	case layers.IPProtocolUDP:
		if err := d.udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			d.stats.Errors.Link++
			return
		}
		d.handleUDP(ts, emit)
	case layers.IPProtocolTCP:
		if err := d.tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			d.stats.Errors.Link++
			return
		}
		d.handleTCP(d.flowKey(ip), ts, emit)
	}
}
