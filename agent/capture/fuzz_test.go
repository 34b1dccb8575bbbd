package capture

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// checkObservation fails on a name that breaks the Observation contract.
func checkObservation(t *testing.T, o Observation) {
	t.Helper()
	if o.Name == "" || strings.HasSuffix(o.Name, ".") || o.Name != strings.ToLower(o.Name) {
		t.Fatalf("bad name %q", o.Name)
	}
	for _, c := range []byte(o.Name) {
		if c <= ' ' || c >= 0x7f {
			t.Fatalf("name %q has byte %#x", o.Name, c)
		}
	}
	if o.Source != SourceDNS && o.Source != SourceSNI {
		t.Fatalf("bad source %q", o.Source)
	}
}

func checkTables(t *testing.T, d *Decoder) {
	t.Helper()
	pending := 0
	for _, f := range d.tcpFlows.flows {
		pending += len(f.pending)
	}
	if pending != d.tcpFlows.bytes || len(d.tcpFlows.flows) > d.tcpFlows.maxFlows || pending > d.tcpFlows.maxBytes {
		t.Fatalf("TCP table: %d flows, %d bytes pending, %d counted", len(d.tcpFlows.flows), pending, d.tcpFlows.bytes)
	}
	fragBytes := 0
	for _, s := range d.fragments.sets {
		fragBytes += s.bytes
	}
	if fragBytes != d.fragments.bytes || len(d.fragments.sets) > d.fragments.maxSets || fragBytes > d.fragments.maxBytes {
		t.Fatalf("fragment table: %d sets, %d bytes, %d counted", len(d.fragments.sets), fragBytes, d.fragments.bytes)
	}
}

func FuzzDecodePacket(f *testing.F) {
	for _, seed := range decodePacketSeeds(f) {
		f.Add(seed)
	}
	links := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL, layers.LinkTypeNull}
	f.Fuzz(func(t *testing.T, packet []byte) {
		for _, link := range links {
			d := NewDecoder(link)
			d.SNI = func(payload []byte, quic bool) (string, bool) { return string(payload), len(payload) < 64 }
			emit := func(o Observation) { checkObservation(t, o) }
			// Twice, so a packet that leaves state behind meets it.
			d.Decode(packet, epoch, emit)
			d.Decode(packet, epoch, emit)
			checkTables(t, d)
			if s := d.Stats(); s.Packets != 2 {
				t.Fatalf("Packets = %d", s.Packets)
			}
		}
	})
}

// rawTCP4 builds an IPv4/TCP packet by hand (no checksums, which the decoder
// does not verify); faster than serializing inside a fuzz loop.
func rawTCP4(srcPort, dstPort uint16, seq uint32, flags byte, payload []byte) []byte {
	p := rawIPv4(layers.IPProtocolTCP, 20, srcPort, dstPort, payload)
	binary.BigEndian.PutUint32(p[24:], seq)
	p[32] = 5 << 4
	p[33] = flags
	binary.BigEndian.PutUint16(p[34:], 65535)
	return p
}

// rawIPv4 builds an IPv4 packet from clientIP4 to serverIP4 carrying a
// transport header of transportLen bytes, whose ports it fills in and the
// rest of which the caller does, followed by payload.
func rawIPv4(proto layers.IPProtocol, transportLen int, srcPort, dstPort uint16, payload []byte) []byte {
	n := 20 + transportLen
	p := make([]byte, n, n+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(n+len(payload)))
	p[8] = 64
	p[9] = byte(proto)
	copy(p[12:], clientIP4)
	copy(p[16:], serverIP4)
	binary.BigEndian.PutUint16(p[20:], srcPort)
	binary.BigEndian.PutUint16(p[22:], dstPort)
	return append(p, payload...)
}

func FuzzDNSOverTCP(f *testing.F) {
	for _, seed := range dnsOverTCPSeeds(f) {
		f.Add(seed.stream, seed.cut1, seed.cut2)
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut1, cut2 uint16) {
		a := min(int(cut1), len(stream))
		b := min(max(int(cut2), a), len(stream))
		d := NewDecoder(layers.LinkTypeRaw)
		// Small limits so that the fuzzer reaches eviction.
		d.tcpFlows = newFlowTable(2, 4096)
		var whole []Observation
		for i, seg := range [][]byte{stream[:a], stream[a:b], stream[b:]} {
			off := uint32([]int{0, a, b}[i])
			d.Decode(rawTCP4(40000, 53, 1000+off, 0x18, seg), epoch, func(o Observation) {
				checkObservation(t, o)
				whole = append(whole, o)
			})
			// A second flow interleaved with the first.
			d.Decode(rawTCP4(40001, 53, 5000+off, 0x18, seg), epoch, func(o Observation) { checkObservation(t, o) })
			checkTables(t, d)
		}
		// With no eviction the split must not change what is found.
		// A zero length prefix makes the rest of the stream unreadable;
		// the decoder then restarts at the next segment, which a single
		// segment does not have.
		if d.Stats().Errors.TCPEvicted == 0 && !hasZeroLengthFrame(stream) {
			one := NewDecoder(layers.LinkTypeRaw)
			var n int
			one.Decode(rawTCP4(40000, 53, 1000, 0x18, stream), epoch, func(Observation) { n++ })
			if n != len(whole) {
				t.Fatalf("split stream gave %d names, whole stream %d", len(whole), n)
			}
		}
	})
}

func hasZeroLengthFrame(stream []byte) bool {
	for len(stream) >= 2 {
		n := int(binary.BigEndian.Uint16(stream))
		if n == 0 {
			return true
		}
		stream = stream[min(2+n, len(stream)):]
	}
	return false
}

type tcpSeed struct {
	stream     []byte
	cut1, cut2 uint16
}

func lengthPrefixed(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func dnsOverTCPSeeds(tb testing.TB) []tcpSeed {
	two := lengthPrefixed(dnsQuery(tb, 1, "one.notion.so"), dnsResponse(tb, 2, "acme.zendesk.com", "acme.zendesk.com.cdn.example"))
	return []tcpSeed{
		{stream: two, cut1: 5, cut2: 40},
		{stream: two, cut1: 1, cut2: 1},
		{stream: lengthPrefixed([]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}), cut1: 3, cut2: 9},
		{stream: []byte{0xff, 0xff, 1, 2, 3}, cut1: 2, cut2: 4},
	}
}

func decodePacketSeeds(tb testing.TB) [][]byte {
	q := udpPacket(tb, flow{srcPort: 40000, dstPort: 53}, dnsQuery(tb, 1, "customer.zendesk.com"))
	r := udpPacket(tb, flow{ipv6: true, srcPort: 53, dstPort: 40000, reply: true},
		dnsResponse(tb, 1, "customer.zendesk.com", "acme.zendesk.com"))
	tcp := tcpPacket(tb, flow{srcPort: 40001, dstPort: 53}, 1, false, false,
		lengthPrefixed(dnsQuery(tb, 2, "a.example.com"), dnsQuery(tb, 3, "b.example.com"))[:40])
	frag := ipv4Fragments(tb, udpPacket(tb, flow{srcPort: 53, dstPort: 1, reply: true},
		bigResponse(tb, 1, "a.example", "b.example", 600)), 256)
	loop := udpPacket(tb, flow{srcPort: 1, dstPort: 53}, []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	sni := udpPacket(tb, flow{srcPort: 1, dstPort: 443}, []byte("quic"))
	return [][]byte{
		q, r, tcp, frag[0], frag[len(frag)-1], loop, sni,
		frame(tb, layers.LinkTypeEthernet, q),
		frame(tb, layers.LinkTypeLinuxSLL, r),
		frame(tb, layers.LinkTypeNull, q),
		vlanFrame(tb, q),
	}
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/<Target>/ with -update, so the
// committed seed corpora follow the packet builders.
func TestWriteFuzzSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	for i, p := range decodePacketSeeds(t) {
		golden.WriteFuzzSeed(t, "FuzzDecodePacket", fmt.Sprintf("seed-%02d", i), p)
	}
	for i, s := range dnsOverTCPSeeds(t) {
		golden.WriteFuzzSeed(t, "FuzzDNSOverTCP", fmt.Sprintf("seed-%02d", i), s.stream, s.cut1, s.cut2)
	}
}
