package capture

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"github.com/shadowmap/shadowmap/internal/testtls"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/shadowmap/shadowmap/agent/capture/sni"

	"github.com/shadowmap/shadowmap/internal/golden"
)

// realSNI is the hook the agent installs: package sni's parsers.
func realSNI(payload []byte, quic bool) (string, bool) {
	if quic {
		return sni.FromQUIC(payload)
	}
	return sni.FromTLS(payload)
}

// bigClientHello is a real ~2 KB ClientHello (see testtls).
func bigClientHello(t testing.TB, serverName string) []byte {
	return testtls.BigClientHello(t, serverName)
}

// cutAt splits b at the given offsets.
func cutAt(b []byte, cuts ...int) [][]byte {
	var parts [][]byte
	start := 0
	for _, c := range append(cuts, len(b)) {
		parts = append(parts, b[start:c])
		start = c
	}
	return parts
}

// timedFrame is a link-layer frame and when it was captured.
type timedFrame struct {
	at    time.Duration // after epoch
	frame []byte
}

// writeTimedPcap writes frames with their own timestamps with pcapgo.
func writeTimedPcap(t testing.TB, link layers.LinkType, frames []timedFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65536, link); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: epoch.Add(f.at), CaptureLength: len(f.frame), Length: len(f.frame)}
		if err := w.WritePacket(ci, f.frame); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// replayWithSNI runs a capture through ReadPcapWith and the real parsers.
func replayWithSNI(t testing.TB, capture []byte) ([]Observation, Stats) {
	t.Helper()
	var got []Observation
	stats, err := ReadPcapWith(bytes.NewReader(capture), realSNI, func(o Observation) { got = append(got, o) })
	if err != nil {
		t.Fatalf("ReadPcapWith: %v", err)
	}
	return got, stats
}

// tlsSegment is one TCP segment of a client's connection to port 443: its
// payload and where in the stream it starts.
type tlsSegment struct {
	flow   flow
	offset int // bytes after the SYN
	data   []byte
	at     time.Duration
}

const testISN = 7_000_000

func (s tlsSegment) frame(t testing.TB) []byte {
	return frame(t, layers.LinkTypeEthernet, tcpPacket(t, s.flow, testISN+1+uint32(s.offset), false, false, s.data))
}

func TestTLSClientHelloAcrossSegments(t *testing.T) {
	const name = "split.tcp.example.com"
	hello := bigClientHello(t, name)
	nameAt := bytes.Index(hello, []byte(name))
	if nameAt < 0 {
		t.Fatal("name not in the ClientHello")
	}
	client := flow{srcPort: 50123, dstPort: 443}
	other := flow{srcPort: 50124, dstPort: 443}
	client6 := flow{ipv6: true, srcPort: 50125, dstPort: 443}
	// seg builds the segments of f for hello cut at the offsets.
	seg := func(f flow, cuts ...int) []tlsSegment {
		var out []tlsSegment
		offset := 0
		for i, part := range cutAt(hello, cuts...) {
			out = append(out, tlsSegment{flow: f, offset: offset, data: part, at: time.Duration(i) * time.Millisecond})
			offset += len(part)
		}
		return out
	}
	two := seg(client, nameAt+3)
	three := seg(client, nameAt/2, nameAt+3)
	late := seg(client, nameAt+3)
	late[1].at = tlsFlowTTL + time.Second
	overlapping := seg(client, nameAt+3)
	overlapping[1] = tlsSegment{flow: client, offset: nameAt - 100, data: hello[nameAt-100:]}

	tests := []struct {
		name     string
		segments []tlsSegment
		want     []string
		// wantReassembled, wantGap and wantEvicted are the expected
		// SNIReassembled, Errors.TLSGap and Errors.TLSEvicted.
		wantReassembled, wantGap, wantEvicted uint64
	}{
		{"one segment", seg(client), []string{name}, 0, 0, 0},
		{"two segments", two, []string{name}, 1, 0, 0},
		{"three segments", three, []string{name}, 1, 0, 0},
		{"name in the first of two", seg(client, len(hello)-50), []string{name}, 0, 0, 0},
		{"first segment retransmitted", []tlsSegment{two[0], two[0], two[1], two[1]}, []string{name}, 1, 0, 0},
		{"overlapping retransmission", overlapping, []string{name}, 1, 0, 0},
		{"middle segment missing", []tlsSegment{three[0], three[2]}, nil, 0, 1, 0},
		{"second segment before the first", []tlsSegment{two[1], two[0]}, nil, 0, 0, 0},
		{"rest after the TTL", late, nil, 0, 0, 1},
		{"IPv6", seg(client6, nameAt+3), []string{name}, 1, 0, 0},
		{"two flows interleaved", func() []tlsSegment {
			a, b := seg(client, nameAt+3), seg(other, nameAt-20)
			return []tlsSegment{a[0], b[0], b[1], a[1]}
		}(), []string{name, name}, 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			syn := frame(t, layers.LinkTypeEthernet, tcpPacket(t, client, testISN, true, false, nil))
			frames := []timedFrame{{0, syn}}
			for _, s := range tt.segments {
				frames = append(frames, timedFrame{s.at, s.frame(t)})
			}
			got, stats := replayWithSNI(t, writeTimedPcap(t, layers.LinkTypeEthernet, frames))
			var gotNames []string
			for _, o := range got {
				gotNames = append(gotNames, o.Name)
			}
			if !slices.Equal(gotNames, tt.want) {
				t.Errorf("names = %q, want %q", gotNames, tt.want)
			}
			if stats.SNIReassembled != tt.wantReassembled || stats.Errors.TLSGap != tt.wantGap || stats.Errors.TLSEvicted != tt.wantEvicted {
				t.Errorf("SNIReassembled %d, TLSGap %d, TLSEvicted %d; want %d, %d, %d",
					stats.SNIReassembled, stats.Errors.TLSGap, stats.Errors.TLSEvicted, tt.wantReassembled, tt.wantGap, tt.wantEvicted)
			}
		})
	}
}

func TestTLSFlowOfANewConnection(t *testing.T) {
	const name = "again.example.com"
	hello := bigClientHello(t, name)
	cut := bytes.Index(hello, []byte(name)) + 2
	d := NewDecoder(layers.LinkTypeRaw)
	d.SNI = realSNI
	var got []string
	emit := func(o Observation) { got = append(got, o.Name) }
	f := flow{srcPort: 50200, dstPort: 443}
	d.Decode(tcpPacket(t, f, 100, false, false, hello[:cut]), epoch, emit)
	// The connection is abandoned; a new one on the same ports sends its
	// ClientHello, which is a gap for the old one.
	d.Decode(tcpPacket(t, f, 9000, true, false, nil), epoch, emit)
	d.Decode(tcpPacket(t, f, 9001, false, false, hello[:cut]), epoch, emit)
	d.Decode(tcpPacket(t, f, 9001+uint32(cut), false, false, hello[cut:]), epoch, emit)
	if !slices.Equal(got, []string{name}) {
		t.Errorf("names = %q", got)
	}
	if s := d.Stats(); s.Errors.TLSGap != 1 || s.Errors.TLSEvicted != 0 {
		t.Errorf("errors = %+v, want one gap", s.Errors)
	}
}

func TestTLSFlowsIgnoreOtherSegments(t *testing.T) {
	d := NewDecoder(layers.LinkTypeRaw)
	d.SNI = realSNI
	emit := func(o Observation) { t.Errorf("emitted %q", o.Name) }
	f := flow{srcPort: 50300, dstPort: 443}
	for _, payload := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		{23, 3, 3, 0x40, 0},                             // application data
		{22, 3, 3, 0x40, 0, 2, 0, 0},                    // a ServerHello, not a client's
		{22, 3, 3, 0xff, 0xff, 1},                       // a record longer than TLS allows
		{22, 3, 3, 0, 10, 1, 0, 0, 6, 3, 3, 0, 0, 0, 0}, // complete, no name
	} {
		d.Decode(tcpPacket(t, f, 1, false, false, payload), epoch, emit)
	}
	if n := len(d.tlsFlows.flows); n != 0 {
		t.Errorf("%d flows buffered, want none", n)
	}
}

func TestTLSFlowsStayBounded(t *testing.T) {
	hello := bigClientHello(t, "bounded.example.com")
	d := NewDecoder(layers.LinkTypeRaw)
	d.SNI = realSNI
	emit := func(Observation) {}
	for port := range 2 * defaultMaxTLSFlows {
		f := flow{srcPort: uint16(20000 + port), dstPort: 443}
		d.Decode(tcpPacket(t, f, 1, false, false, hello[:100]), epoch.Add(time.Duration(port)*time.Millisecond), emit)
		checkTLSTable(t, d)
	}
	if n := len(d.tlsFlows.flows); n != defaultMaxTLSFlows {
		t.Errorf("%d flows, want %d", n, defaultMaxTLSFlows)
	}
	if s := d.Stats(); s.Errors.TLSEvicted != defaultMaxTLSFlows {
		t.Errorf("TLSEvicted = %d, want %d", s.Errors.TLSEvicted, defaultMaxTLSFlows)
	}
	// The byte bound holds too (100 bytes stop before the name).
	small := NewDecoder(layers.LinkTypeRaw)
	small.SNI = realSNI
	small.tlsFlows = newTLSFlowTable(defaultMaxTLSFlows, 3*100)
	for port := range 10 {
		small.Decode(tcpPacket(t, flow{srcPort: uint16(30000 + port), dstPort: 443}, 1, false, false, hello[:100]), epoch, emit)
		checkTLSTable(t, small)
	}
	if n := len(small.tlsFlows.flows); n != 3 {
		t.Errorf("byte-bounded table holds %d flows, want 3", n)
	}
}

// checkTLSTable fails when the TLS flow table breaks its bounds or its
// byte count is off.
func checkTLSTable(t testing.TB, d *Decoder) {
	t.Helper()
	tbl := &d.tlsFlows
	pending := 0
	for _, f := range tbl.flows {
		pending += len(f.hello)
		if len(f.hello) > f.need || f.need > maxClientHelloRecord {
			t.Fatalf("flow holds %d bytes of a %d-byte record", len(f.hello), f.need)
		}
	}
	if pending != tbl.bytes || len(tbl.flows) > tbl.maxFlows || pending > tbl.maxBytes || len(tbl.free) > maxFreeTLSFlows {
		t.Fatalf("TLS table: %d flows, %d bytes pending, %d counted, %d free", len(tbl.flows), pending, tbl.bytes, len(tbl.free))
	}
}

// splitClientHelloPackets returns, for connections client ports, the two
// segments of a split ClientHello each, as raw IPv4 packets.
func splitClientHelloPackets(t testing.TB, hello []byte, cut, connections int) [][]byte {
	var packets [][]byte
	for i := range connections {
		f := flow{srcPort: uint16(40000 + i), dstPort: 443}
		packets = append(packets,
			tcpPacket(t, f, 1, false, false, hello[:cut]),
			tcpPacket(t, f, 1+uint32(cut), false, false, hello[cut:]))
	}
	return packets
}

func TestTLSReassemblyAllocations(t *testing.T) {
	const name = "alloc.example.com"
	hello := bigClientHello(t, name)
	packets := splitClientHelloPackets(t, hello, bytes.Index(hello, []byte(name))+1, 4)
	d := NewDecoder(layers.LinkTypeRaw)
	d.SNI = realSNI
	found := 0
	emit := func(Observation) { found++ }
	for _, p := range packets { // warm up: buffers, map, intern table
		d.Decode(p, epoch, emit)
	}
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range packets {
			d.Decode(p, epoch, emit)
		}
	})
	// sni.FromTLS allocates the name string it returns, once per
	// ClientHello; the reassembly itself nothing.
	if perHello := allocs / 4; perHello > 1 {
		t.Errorf("%.1f allocations per split ClientHello, want at most 1", perHello)
	}
	// AllocsPerRun runs the function once more than asked, to warm up.
	if found != 4*52 {
		t.Errorf("found %d names, want %d", found, 4*52)
	}

	// While flows are pending, segments of other flows cost nothing.
	pending := splitClientHelloPackets(t, hello, 100, 8)
	for i := 0; i < len(pending); i += 2 {
		d.Decode(pending[i], epoch, emit)
	}
	notHello := tcpPacket(t, flow{srcPort: 41000, dstPort: 443}, 1, false, false, bytes.Repeat([]byte{0x17}, 600))
	if allocs := testing.AllocsPerRun(100, func() { d.Decode(notHello, epoch, emit) }); allocs != 0 {
		t.Errorf("a segment of another flow allocates %v times, want 0", allocs)
	}
}

// BenchmarkDecodeSplitClientHello decodes ClientHellos split over two TCP
// segments, of many connections in turn.
func BenchmarkDecodeSplitClientHello(b *testing.B) {
	const name = "bench.split.example.com"
	hello := bigClientHello(b, name)
	packets := splitClientHelloPackets(b, hello, bytes.Index(hello, []byte(name))+1, 64)
	for i := range packets {
		packets[i] = frame(b, layers.LinkTypeEthernet, packets[i])
	}
	d := NewDecoder(layers.LinkTypeEthernet)
	d.SNI = realSNI
	found := 0
	emit := func(Observation) { found++ }
	for _, p := range packets {
		d.Decode(p, epoch, emit)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Decode(packets[i%len(packets)], epoch, emit)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "packets/s")
	if want := (len(packets) + i) / 2; found != want {
		b.Fatalf("found %d names, want %d", found, want)
	}
	if s := d.Stats(); s.Errors.Total() != 0 {
		b.Fatalf("errors: %+v", s.Errors)
	}
}

// sealQUICInitial builds a QUIC v1 client Initial packet carrying frames,
// protected with the keys RFC 9001 section 5.2 derives from dcid: the
// sealing side of what package sni opens.
func sealQUICInitial(t testing.TB, dcid []byte, packetNumber byte, frames []byte) []byte {
	t.Helper()
	salt := []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
		0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	expand := func(secret []byte, label string, length int) []byte {
		info := binary.BigEndian.AppendUint16(nil, uint16(length))
		info = append(info, byte(len("tls13 "+label)))
		info = append(info, "tls13 "+label...)
		info = append(info, 0)
		out, err := hkdf.Expand(sha256.New, secret, string(info), length)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	initial, err := hkdf.Extract(sha256.New, dcid, salt)
	if err != nil {
		t.Fatal(err)
	}
	client := expand(initial, "client in", 32)
	key, iv, hp := expand(client, "quic key", 16), expand(client, "quic iv", 12), expand(client, "quic hp", 16)

	// Long header, Initial, 1-byte packet number; version 1; no token.
	header := []byte{0xc0, 0, 0, 0, 1, byte(len(dcid))}
	header = append(header, dcid...)
	header = append(header, 0, 0) // empty SCID, token length 0
	length := 1 + len(frames) + 16
	header = append(header, 0x40|byte(length>>8), byte(length))
	pnOffset := len(header)
	header = append(header, packetNumber)
	nonce := bytes.Clone(iv)
	nonce[len(nonce)-1] ^= packetNumber
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	packet := aead.Seal(bytes.Clone(header), nonce, frames, header)
	hpBlock, _ := aes.NewCipher(hp)
	var mask [16]byte
	hpBlock.Encrypt(mask[:], packet[pnOffset+4:pnOffset+20])
	packet[0] ^= mask[0] & 0x0f
	packet[pnOffset] ^= mask[1]
	return packet
}

// quicCryptoFrame is a CRYPTO frame with 2-byte varints.
func quicCryptoFrame(offset int, data []byte) []byte {
	frame := []byte{0x06, 0x40 | byte(offset>>8), byte(offset), 0x40 | byte(len(data)>>8), byte(len(data))}
	return append(frame, data...)
}

// splitQUICInitials seals the ClientHello's handshake message in one
// Initial packet per part, padded as clients pad them.
func splitQUICInitials(t testing.TB, dcid, hello []byte, cuts ...int) [][]byte {
	message := hello[tlsRecordHeaderLength:]
	var packets [][]byte
	offset := 0
	for i, part := range cutAt(message, cuts...) {
		frames := append(quicCryptoFrame(offset, part), make([]byte, max(0, 1200-len(part)))...)
		packets = append(packets, sealQUICInitial(t, dcid, byte(i), frames))
		offset += len(part)
	}
	return packets
}

func TestQUICClientHelloAcrossInitialPackets(t *testing.T) {
	const name = "split.quic.example.com"
	hello := bigClientHello(t, name)
	nameAt := bytes.Index(hello, []byte(name)) - tlsRecordHeaderLength
	dcid := []byte{0xc1, 0x1e, 0x47, 0, 1, 2, 3, 4}
	two := splitQUICInitials(t, dcid, hello, nameAt+3)
	three := splitQUICInitials(t, dcid, hello, nameAt/2, nameAt+3)
	quic := flow{srcPort: 55000, dstPort: 443}
	tests := []struct {
		name    string
		packets [][]byte
		want    []string
	}{
		{"two in order", two, []string{name}},
		{"two reversed", [][]byte{two[1], two[0]}, []string{name}},
		{"three shuffled", [][]byte{three[1], three[2], three[0]}, []string{name}},
		{"retransmitted", [][]byte{two[0], two[1], two[0], two[1]}, []string{name}},
		{"second missing", two[:1], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var frames []timedFrame
			for i, p := range tt.packets {
				frames = append(frames, timedFrame{time.Duration(i) * time.Millisecond, frame(t, layers.LinkTypeEthernet, udpPacket(t, quic, p))})
			}
			got, stats := replayWithSNI(t, writeTimedPcap(t, layers.LinkTypeEthernet, frames))
			var gotNames []string
			for _, o := range got {
				gotNames = append(gotNames, o.Source+":"+o.Name)
				if o.Source != SourceSNI {
					t.Errorf("source %q", o.Source)
				}
			}
			if len(gotNames) != len(tt.want) || (len(tt.want) > 0 && gotNames[0] != SourceSNI+":"+name) {
				t.Errorf("names = %q, want %q", gotNames, tt.want)
			}
			if want := uint64(len(tt.want)); stats.SNIReassembled != want {
				t.Errorf("SNIReassembled = %d, want %d", stats.SNIReassembled, want)
			}
		})
	}
}

// tlsReassemblySeeds are the seed inputs of FuzzTLSReassembly: ClientHellos
// split in three, and the same bytes as QUIC Initial packets.
func tlsReassemblySeeds(tb testing.TB) []tcpSeed {
	hello := bigClientHello(tb, "seed.split.example.com")
	at := bytes.Index(hello, []byte("seed.split"))
	return []tcpSeed{
		{stream: hello, cut1: uint16(at / 2), cut2: uint16(at + 4)},
		{stream: hello, cut1: 3, cut2: 9},
		{stream: hello[:at+4], cut1: 100, cut2: 200},
		{stream: []byte{22, 3, 1, 0x40, 0, 1, 0, 0x3f, 0xfc}, cut1: 6, cut2: 7},
	}
}

func FuzzTLSReassembly(f *testing.F) {
	for _, seed := range tlsReassemblySeeds(f) {
		f.Add(seed.stream, seed.cut1, seed.cut2)
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut1, cut2 uint16) {
		a := min(int(cut1), len(stream))
		b := min(max(int(cut2), a), len(stream))
		parts := [][]byte{stream[:a], stream[a:b], stream[b:]}
		d := NewDecoder(layers.LinkTypeRaw)
		d.SNI = realSNI
		// Small limits so that the fuzzer reaches eviction.
		d.tlsFlows = newTLSFlowTable(2, 8192)
		var split []string
		for i, part := range parts {
			off := uint32([]int{0, a, b}[i])
			emit := func(o Observation) {
				checkObservation(t, o)
				split = append(split, o.Name)
			}
			d.Decode(rawTCP4(40000, 443, 1000+off, 0x18, part), epoch, emit)
			// Another flow with the same bytes, and the same bytes as
			// QUIC datagrams.
			d.Decode(rawTCP4(40001, 443, 5000+off, 0x18, part), epoch, func(o Observation) { checkObservation(t, o) })
			d.Decode(rawUDP4(40002, 443, part), epoch, func(o Observation) { checkObservation(t, o) })
			checkTLSTable(t, d)
		}
		// When the first segment shows a ClientHello record that the
		// table may hold, the split must find what the whole finds.
		first := parts[0]
		if len(first) == 0 {
			first = parts[1]
			if len(first) == 0 {
				first = parts[2]
			}
		}
		if _, ok := clientHelloRecordLength(first); !ok || len(first) <= tlsHandshakeTypeAtOffset || d.Stats().Errors.TLSEvicted != 0 {
			return
		}
		whole, ok := sni.FromTLS(stream)
		if ok != (len(split) == 1) || (ok && split[0] != whole) {
			t.Fatalf("split into %d+%d+%d found %q; the whole stream %q, %v", len(parts[0]), len(parts[1]), len(parts[2]), split, whole, ok)
		}
	})
}

// rawUDP4 builds an IPv4/UDP packet by hand.
func rawUDP4(srcPort, dstPort uint16, payload []byte) []byte {
	p := rawIPv4(layers.IPProtocolUDP, 8, srcPort, dstPort, payload)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	return p
}

// TestWriteTLSReassemblySeeds rewrites testdata/fuzz/FuzzTLSReassembly/
// with -update.
func TestWriteTLSReassemblySeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	for i, s := range tlsReassemblySeeds(t) {
		golden.WriteFuzzSeed(t, "FuzzTLSReassembly", fmt.Sprintf("seed-%02d", i), s.stream, s.cut1, s.cut2)
	}
}

// BenchmarkDecodeSplitQUICInitial decodes QUIC connections whose
// ClientHello is split over two Initial packets, more connections than the
// reassembler holds, so each one starts fresh and derives its keys.
func BenchmarkDecodeSplitQUICInitial(b *testing.B) {
	const name = "bench.quic.example.com"
	hello := bigClientHello(b, name)
	cut := bytes.Index(hello, []byte(name)) - tlsRecordHeaderLength + 1
	var packets [][]byte
	for i := range 4 * sni.MaxPendingQUIC {
		for _, p := range splitQUICInitials(b, []byte{byte(i), 0xbe, 0xec, 0x4e, 0, 0, 0, 0}, hello, cut) {
			packets = append(packets, frame(b, layers.LinkTypeEthernet, udpPacket(b, flow{srcPort: uint16(50000 + i), dstPort: 443}, p)))
		}
	}
	d := NewDecoder(layers.LinkTypeEthernet)
	d.SNI = realSNI
	found := 0
	emit := func(Observation) { found++ }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Decode(packets[i%len(packets)], epoch, emit)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "packets/s")
	if want := i / 2; found != want {
		b.Fatalf("found %d names, want %d", found, want)
	}
}
