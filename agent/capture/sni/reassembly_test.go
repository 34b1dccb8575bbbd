package sni

import (
	"bytes"
	"github.com/shadowmap/shadowmap/internal/testtls"
	"slices"
	"testing"
	"time"
)

var testEpoch = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// bigClientHello is a real ~2 KB ClientHello (see testtls).
func bigClientHello(t testing.TB, serverName string) []byte {
	return testtls.BigClientHello(t, serverName)
}

// splitInitials seals message as CRYPTO frames cut at the given offsets,
// one Initial packet per part, padded as clients pad them.
func splitInitials(t testing.TB, dcid []byte, message []byte, cuts ...int) [][]byte {
	t.Helper()
	bounds := append(append([]int{0}, cuts...), len(message))
	var packets [][]byte
	for i := range len(bounds) - 1 {
		frames := concat(cryptoFrame(bounds[i], message[bounds[i]:bounds[i+1]]), make([]byte, 40))
		packets = append(packets, sealInitial(t, initialPacket{
			version: 1, dcid: dcid, scid: []byte{0x51}, packetNumber: uint32(i), packetNumberLength: 2, frames: frames,
		}))
	}
	return packets
}

func TestQUICReassembler(t *testing.T) {
	const name = "split.quic.example.com"
	hello := handshakeMessage(bigClientHello(t, name))
	nameAt := bytes.Index(hello, []byte(name))
	dcid := []byte{0xde, 0xc1, 0xd0, 1, 2, 3, 4, 5}
	two := splitInitials(t, dcid, hello, nameAt+3)
	three := splitInitials(t, dcid, hello, nameAt/2, nameAt+3)
	atEnd := splitInitials(t, dcid, hello, len(hello)-10)

	tests := []struct {
		name    string
		packets [][]byte
		// wantAt is the index of the packet that completes the name, or
		// -1 when none should.
		wantAt int
	}{
		{"two in order", two, 1},
		{"two reversed", [][]byte{two[1], two[0]}, 1},
		{"three in order", three, 2},
		{"three shuffled", [][]byte{three[2], three[0], three[1]}, 2},
		{"name in the first of two", atEnd, 0},
		{"second repeated before the first", [][]byte{two[1], two[1], two[0], two[1], two[0]}, 2},
		{"middle part missing", [][]byte{three[0], three[2]}, -1},
		{"first part only", two[:1], -1},
		{"second part only", two[1:], -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a QUICReassembler
			for i, p := range tt.packets {
				original := bytes.Clone(p)
				got, ok := a.Add(p, testEpoch.Add(time.Duration(i)*time.Millisecond))
				if wantOK := i == tt.wantAt; ok != wantOK || (ok && got != name) {
					t.Errorf("packet %d: Add = %q, %v; want ok=%v", i, got, ok, wantOK)
				}
				if !bytes.Equal(p, original) {
					t.Fatalf("packet %d: Add modified its input", i)
				}
			}
		})
	}
}

func TestQUICReassemblerInterleavedConnections(t *testing.T) {
	var a QUICReassembler
	names := []string{"one.example.com", "two.example.net", "three.example.org"}
	var parts [][][]byte
	for i, name := range names {
		hello := handshakeMessage(bigClientHello(t, name))
		parts = append(parts, splitInitials(t, []byte{byte(i), 9, 9, 9, 9, 9, 9, 9}, hello, bytes.Index(hello, []byte(name))+2))
	}
	var got []string
	for part := range 2 {
		for conn := range parts {
			if name, ok := a.Add(parts[conn][part], testEpoch); ok {
				got = append(got, name)
			}
		}
	}
	if !slices.Equal(got, names) {
		t.Errorf("names = %q, want %q", got, names)
	}
	if s := a.Stats(); s.Names != 3 || s.Evicted != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestQUICReassemblerTTL(t *testing.T) {
	const name = "late.example.com"
	hello := handshakeMessage(bigClientHello(t, name))
	packets := splitInitials(t, []byte{7, 7, 7, 7}, hello, bytes.Index(hello, []byte(name))+1)
	var a QUICReassembler
	a.Add(packets[0], testEpoch)
	if got, ok := a.Add(packets[1], testEpoch.Add(QUICReassemblyTTL+time.Second)); ok {
		t.Errorf("second part after the TTL: Add = %q, true; want false", got)
	}
	if s := a.Stats(); s.Evicted != 1 || s.Names != 0 {
		t.Errorf("stats = %+v, want one eviction", s)
	}
	// Within the TTL it works.
	var b QUICReassembler
	b.Add(packets[0], testEpoch)
	if got, ok := b.Add(packets[1], testEpoch.Add(QUICReassemblyTTL)); !ok || got != name {
		t.Errorf("second part at the TTL: Add = %q, %v", got, ok)
	}
}

func TestQUICReassemblerStaysBounded(t *testing.T) {
	hello := handshakeMessage(bigClientHello(t, "bounded.example.com"))
	var a QUICReassembler
	var firstParts, secondParts [][]byte
	for i := range 2 * MaxPendingQUIC {
		p := splitInitials(t, []byte{byte(i), 1, 2, 3}, hello, 100)
		firstParts = append(firstParts, p[0])
		secondParts = append(secondParts, p[1])
	}
	for i, p := range firstParts {
		a.Add(p, testEpoch.Add(time.Duration(i)*time.Millisecond))
	}
	if s := a.Stats(); s.Evicted != MaxPendingQUIC {
		t.Errorf("Evicted = %d, want %d", s.Evicted, MaxPendingQUIC)
	}
	// The oldest connections were dropped; the newest complete.
	if got, ok := a.Add(secondParts[len(secondParts)-1], testEpoch.Add(time.Second)); !ok || got != "bounded.example.com" {
		t.Errorf("newest connection: Add = %q, %v", got, ok)
	}
	if got, ok := a.Add(secondParts[0], testEpoch.Add(time.Second)); ok {
		t.Errorf("evicted connection: Add = %q, true", got)
	}
}

func TestQUICReassemblerRefusesOversizedStreams(t *testing.T) {
	dcid := []byte{5, 5, 5, 5}
	seal := func(frames []byte) []byte {
		return sealInitial(t, initialPacket{version: 1, dcid: dcid, packetNumberLength: 1, frames: concat(frames, make([]byte, 40))})
	}
	// A ClientHello header claiming 20 KiB.
	huge := []byte{handshakeTypeClientHello, 0, 0x50, 0}
	var a QUICReassembler
	if _, ok := a.Add(seal(cryptoFrame(0, append(huge, make([]byte, 100)...))), testEpoch); ok {
		t.Fatal("huge ClientHello: name found")
	}
	if s := a.Stats(); s.Evicted != 1 {
		t.Errorf("huge ClientHello: stats = %+v, want one given up", s)
	}
	var b QUICReassembler
	if _, ok := b.Add(seal(cryptoFrame(maxCryptoDataLength-10, make([]byte, 20))), testEpoch); ok {
		t.Fatal("frame past 16 KiB: name found")
	}
	if s := b.Stats(); s.Evicted != 1 {
		t.Errorf("frame past 16 KiB: stats = %+v, want one given up", s)
	}
}

func TestQUICReassemblerIgnoresGarbage(t *testing.T) {
	var a QUICReassembler
	packet := readHexFile(t, "rfc9001_a2_client_initial.hex")
	corrupted := bytes.Clone(packet)
	corrupted[len(corrupted)-1] ^= 1
	for _, p := range [][]byte{nil, {0x40, 1, 2}, corrupted, []byte("GET / HTTP/1.1\r\n")} {
		if got, ok := a.Add(p, testEpoch); ok {
			t.Errorf("Add(%x...) = %q, true", p[:min(len(p), 8)], got)
		}
	}
	for i := range a.conns {
		if a.conns[i].inUse {
			t.Fatalf("garbage left connection state in slot %d", i)
		}
	}
	// A whole ClientHello in one packet is read too, once.
	if got, ok := a.Add(packet, testEpoch); !ok || got != "example.com" {
		t.Errorf("RFC 9001 packet: Add = %q, %v", got, ok)
	}
	if got, ok := a.Add(packet, testEpoch); ok {
		t.Errorf("RFC 9001 packet again: Add = %q, true; want the name once", got)
	}
}

func TestAddSpan(t *testing.T) {
	tests := []struct {
		name   string
		adds   []cryptoSpan
		want   []cryptoSpan
		wantOK bool
	}{
		{"one", []cryptoSpan{{0, 10}}, []cryptoSpan{{0, 10}}, true},
		{"adjacent", []cryptoSpan{{10, 20}, {0, 10}}, []cryptoSpan{{0, 20}}, true},
		{"disjoint sorted", []cryptoSpan{{30, 40}, {0, 10}, {15, 20}}, []cryptoSpan{{0, 10}, {15, 20}, {30, 40}}, true},
		{"bridging three", []cryptoSpan{{0, 5}, {10, 15}, {20, 25}, {4, 21}}, []cryptoSpan{{0, 25}}, true},
		{"contained", []cryptoSpan{{0, 100}, {10, 20}}, []cryptoSpan{{0, 100}}, true},
		{"covering", []cryptoSpan{{10, 20}, {30, 40}, {0, 100}}, []cryptoSpan{{0, 100}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c quicConnection
			for _, s := range tt.adds {
				if !c.addSpan(s.start, s.end) {
					t.Fatalf("addSpan(%v) = false", s)
				}
			}
			if got := c.spans[:c.nspans]; !slices.Equal(got, tt.want) {
				t.Errorf("spans = %v, want %v", got, tt.want)
			}
		})
	}
	var c quicConnection
	for i := range maxCryptoSpans {
		if !c.addSpan(10*i, 10*i+5) {
			t.Fatalf("span %d refused", i)
		}
	}
	if c.addSpan(1000, 1001) {
		t.Error("span beyond the limit accepted")
	}
	if !c.addSpan(0, 1000) || c.nspans != 1 {
		t.Errorf("merging all: %d spans", c.nspans)
	}
}

// BenchmarkQUICReassemblerSplit follows connections whose ClientHello is
// split over two Initial packets, more connections than the table holds,
// so every connection starts fresh (deriving its keys) as in real traffic.
func BenchmarkQUICReassemblerSplit(b *testing.B) {
	const name = "bench.split.example.com"
	hello := handshakeMessage(bigClientHello(b, name))
	const connections = 4 * MaxPendingQUIC
	var packets [][]byte
	for i := range connections {
		packets = append(packets, splitInitials(b, []byte{byte(i), 0xbe, 0xec, 0x4e}, hello, bytes.Index(hello, []byte(name))+1)...)
	}
	var a QUICReassembler
	now := testEpoch
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(time.Microsecond)
		_, ok := a.Add(packets[i%len(packets)], now)
		if ok != (i%2 == 1) {
			b.Fatalf("packet %d: ok = %v", i, ok)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "packets/s")
}

func TestQUICReassemblerAllocations(t *testing.T) {
	const name = "alloc.quic.example.com"
	hello := handshakeMessage(bigClientHello(t, name))
	nameAt := bytes.Index(hello, []byte(name))
	parts := splitInitials(t, []byte{3, 1, 4, 1, 5, 9, 2, 6}, hello, nameAt/2, nameAt+3)
	var a QUICReassembler
	a.Add(parts[0], testEpoch)
	// The connection's keys are derived once: later packets of it, here the
	// last part again and again while the middle is missing, allocate
	// nothing.
	allocs := testing.AllocsPerRun(50, func() {
		if _, ok := a.Add(parts[2], testEpoch); ok {
			t.Fatal("name without the middle part")
		}
	})
	if allocs != 0 {
		t.Errorf("a packet of a followed connection allocates %v times, want 0", allocs)
	}
	if got, ok := a.Add(parts[1], testEpoch); !ok || got != name {
		t.Errorf("middle part: Add = %q, %v", got, ok)
	}
}
