package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

func TestUDPQueryAndCNAMEChain(t *testing.T) {
	query := flow{srcPort: 40000, dstPort: 53}
	answer := flow{srcPort: 53, dstPort: 40000, reply: true}
	capture := writePcap(t, layers.LinkTypeEthernet,
		frame(t, layers.LinkTypeEthernet, udpPacket(t, query, dnsQuery(t, 1, "Customer.Zendesk.COM."))),
		frame(t, layers.LinkTypeEthernet, udpPacket(t, answer, dnsResponse(t, 1, "customer.zendesk.com",
			"acme.zendesk.com", "acme.zendesk.com.cdn.cloudflare.net"))),
	)
	got, stats := replay(t, capture)
	want := []string{
		"dns:customer.zendesk.com",
		"dns:customer.zendesk.com", "dns:acme.zendesk.com", "dns:acme.zendesk.com.cdn.cloudflare.net",
	}
	if !slices.Equal(names(got), want) {
		t.Errorf("names = %q, want %q", names(got), want)
	}
	if got[0].Time != epoch || got[1].Time != epoch.Add(time.Millisecond) {
		t.Errorf("times = %v, %v; want the packet timestamps", got[0].Time, got[1].Time)
	}
	if stats.Packets != 2 || stats.DNSMessages != 2 || stats.Names != 4 || stats.Errors.Total() != 0 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestLinkTypes(t *testing.T) {
	q4 := udpPacket(t, flow{srcPort: 40000, dstPort: 53}, dnsQuery(t, 7, "app.slack.com"))
	q6 := udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 53}, dnsQuery(t, 7, "app.slack.com"))
	tests := []struct {
		name    string
		link    layers.LinkType
		frame   []byte
		pcapng  bool
		wantErr bool
	}{
		{name: "ethernet ipv4", link: layers.LinkTypeEthernet, frame: frame(t, layers.LinkTypeEthernet, q4)},
		{name: "ethernet ipv6", link: layers.LinkTypeEthernet, frame: frame(t, layers.LinkTypeEthernet, q6)},
		{name: "ethernet vlan", link: layers.LinkTypeEthernet, frame: vlanFrame(t, q4)},
		{name: "linux sll ipv4", link: layers.LinkTypeLinuxSLL, frame: frame(t, layers.LinkTypeLinuxSLL, q4)},
		{name: "linux sll ipv6", link: layers.LinkTypeLinuxSLL, frame: frame(t, layers.LinkTypeLinuxSLL, q6)},
		{name: "null ipv4", link: layers.LinkTypeNull, frame: frame(t, layers.LinkTypeNull, q4)},
		{name: "null ipv6", link: layers.LinkTypeNull, frame: frame(t, layers.LinkTypeNull, q6)},
		{name: "raw ipv4", link: layers.LinkTypeRaw, frame: q4},
		{name: "raw ipv6", link: layers.LinkTypeRaw, frame: q6},
		{name: "linktype ipv4", link: layers.LinkTypeIPv4, frame: q4},
		{name: "linktype ipv6", link: layers.LinkTypeIPv6, frame: q6},
		{name: "pcapng ethernet", link: layers.LinkTypeEthernet, frame: frame(t, layers.LinkTypeEthernet, q4), pcapng: true},
		{name: "pcapng null ipv6", link: layers.LinkTypeNull, frame: frame(t, layers.LinkTypeNull, q6), pcapng: true},
		{name: "unknown link type", link: layers.LinkTypeFDDI, frame: q4, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capture := writePcap(t, tt.link, tt.frame)
			if tt.pcapng {
				capture = writePcapng(t, tt.link, tt.frame)
			}
			got, stats := replay(t, capture)
			if tt.wantErr {
				if len(got) != 0 || stats.Errors.Link != 1 {
					t.Errorf("got %q, stats %+v; want nothing and one link error", names(got), stats)
				}
				return
			}
			if want := []string{"dns:app.slack.com"}; !slices.Equal(names(got), want) {
				t.Errorf("names = %q, want %q (stats %+v)", names(got), want, stats)
			}
		})
	}
}

func TestDNSOverTCP(t *testing.T) {
	toServer := flow{srcPort: 40001, dstPort: 53}
	fromServer := flow{srcPort: 53, dstPort: 40001, reply: true}
	prefixed := func(msgs ...[]byte) []byte {
		var out []byte
		for _, m := range msgs {
			out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
			out = append(out, m...)
		}
		return out
	}
	two := prefixed(dnsQuery(t, 1, "one.notion.so"), dnsQuery(t, 2, "two.figma.com"))
	split := prefixed(dnsResponse(t, 3, "acme.atlassian.net", "acme.atlassian.net.edge.example"))
	const isn = 1000
	tests := []struct {
		name    string
		packets [][]byte
		want    []string
		gaps    uint64
	}{{
		name:    "two messages in one segment",
		packets: [][]byte{tcpPacket(t, toServer, isn, false, false, two)},
		want:    []string{"dns:one.notion.so", "dns:two.figma.com"},
	}, {
		name: "one message across three segments, after a handshake",
		packets: [][]byte{
			tcpPacket(t, fromServer, isn, true, false, nil),
			tcpPacket(t, fromServer, isn+1, false, false, split[:1]),
			tcpPacket(t, fromServer, isn+2, false, false, split[1:20]),
			tcpPacket(t, fromServer, isn+1+20, false, true, split[20:]),
		},
		want: []string{"dns:acme.atlassian.net", "dns:acme.atlassian.net.edge.example"},
	}, {
		name: "retransmitted and overlapping segments",
		packets: [][]byte{
			tcpPacket(t, fromServer, isn, false, false, split[:10]),
			tcpPacket(t, fromServer, isn, false, false, split[:10]),
			tcpPacket(t, fromServer, isn+5, false, false, split[5:30]),
			tcpPacket(t, fromServer, isn+30, false, false, split[30:]),
		},
		want: []string{"dns:acme.atlassian.net", "dns:acme.atlassian.net.edge.example"},
	}, {
		name: "a message and a half, then the rest with the next message",
		packets: [][]byte{
			tcpPacket(t, toServer, isn, false, false, two[:len(two)-7]),
			tcpPacket(t, toServer, isn+uint32(len(two)-7), false, false, append(two[len(two)-7:], prefixed(dnsQuery(t, 9, "three.zoom.us"))...)),
		},
		want: []string{"dns:one.notion.so", "dns:two.figma.com", "dns:three.zoom.us"},
	}, {
		name: "a gap drops the unfinished message and resynchronises",
		packets: [][]byte{
			tcpPacket(t, fromServer, isn, false, false, split[:10]),
			tcpPacket(t, fromServer, isn+500, false, false, two),
		},
		want: []string{"dns:one.notion.so", "dns:two.figma.com"},
		gaps: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(layers.LinkTypeRaw)
			var got []Observation
			for _, p := range tt.packets {
				d.Decode(p, epoch, func(o Observation) { got = append(got, o) })
			}
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("names = %q, want %q", names(got), tt.want)
			}
			if s := d.Stats(); s.Errors.TCPGap != tt.gaps || s.Errors.Total() != tt.gaps {
				t.Errorf("errors = %+v, want %d gaps only", s.Errors, tt.gaps)
			}
			if n := len(d.tcpFlows.flows); n != 0 && tt.gaps == 0 {
				t.Errorf("%d flows left after complete messages", n)
			}
		})
	}
}

func TestFragments(t *testing.T) {
	answer4 := flow{srcPort: 53, dstPort: 40002, reply: true}
	answer6 := flow{ipv6: true, srcPort: 53, dstPort: 40002, reply: true}
	big := bigResponse(t, 5, "files.dropbox.com", "edge.dropbox-dns.com", 3000)
	frags4 := ipv4Fragments(t, udpPacket(t, answer4, big), 1232)
	frags6 := ipv6Fragments(t, udpPacket(t, answer6, big), 1232, 77)
	if len(frags4) < 3 || len(frags6) < 3 {
		t.Fatalf("want at least 3 fragments, got %d and %d", len(frags4), len(frags6))
	}
	reversed := func(in [][]byte) [][]byte {
		out := slices.Clone(in)
		slices.Reverse(out)
		return out
	}
	want := []string{"dns:files.dropbox.com", "dns:edge.dropbox-dns.com"}
	tests := []struct {
		name   string
		link   layers.LinkType
		frames [][]byte
		want   []string
	}{
		{name: "ipv4 in order", frames: frags4, want: want},
		{name: "ipv4 reversed", frames: reversed(frags4), want: want},
		{name: "ipv4 duplicated fragment", frames: append(slices.Clone(frags4[:1]), frags4...), want: want},
		{name: "ipv4 missing fragment", frames: frags4[1:], want: nil},
		{name: "ipv6 in order", frames: frags6, want: want},
		{name: "ipv6 reversed", frames: reversed(frags6), want: want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var framed [][]byte
			for _, f := range tt.frames {
				framed = append(framed, frame(t, layers.LinkTypeEthernet, f))
			}
			got, stats := replay(t, writePcap(t, layers.LinkTypeEthernet, framed...))
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("names = %q, want %q (stats %+v)", names(got), tt.want, stats)
			}
			if stats.Errors.Total() != 0 {
				t.Errorf("errors = %+v", stats.Errors)
			}
		})
	}
}

func TestBadDNS(t *testing.T) {
	toServer := flow{srcPort: 40003, dstPort: 53}
	good := dnsQuery(t, 1, "www.example.com")
	loop := []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1} // question name points at itself
	labelLoop := []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1}
	badAnswer := dnsResponse(t, 1, "www.example.com")
	badAnswer[len(badAnswer)-5] = 0xff // A record rdlength far past the end
	tests := []struct {
		name    string
		payload []byte
		check   func(ErrorCounts) uint64
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), func(e ErrorCounts) uint64 { return e.NotDNS }},
		{"random bytes", bytes.Repeat([]byte{0xff}, 64), func(e ErrorCounts) uint64 { return e.NotDNS }},
		{"header only half", good[:7], func(e ErrorCounts) uint64 { return e.Truncated }},
		{"question cut", good[:20], func(e ErrorCounts) uint64 { return e.Truncated }},
		{"answer cut", badAnswer, func(e ErrorCounts) uint64 { return e.Truncated }},
		{"pointer loop", loop, func(e ErrorCounts) uint64 { return e.CompressionLoop }},
		{"label pointer loop", labelLoop, func(e ErrorCounts) uint64 { return e.CompressionLoop + e.NameTooLong }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(layers.LinkTypeRaw)
			var got []Observation
			d.Decode(udpPacket(t, toServer, tt.payload), epoch, func(o Observation) { got = append(got, o) })
			s := d.Stats()
			if len(got) != 0 {
				t.Errorf("emitted %q from bad input", names(got))
			}
			if tt.check(s.Errors) != 1 || s.Errors.Total() != 1 {
				t.Errorf("errors = %+v", s.Errors)
			}
			// The decoder keeps working after bad input.
			d.Decode(udpPacket(t, toServer, good), epoch, func(o Observation) { got = append(got, o) })
			if want := []string{"dns:www.example.com"}; !slices.Equal(names(got), want) {
				t.Errorf("after bad input: names = %q, want %q", names(got), want)
			}
		})
	}
}

func TestNamesAreFiltered(t *testing.T) {
	d := NewDecoder(layers.LinkTypeRaw)
	var got []Observation
	emit := func(o Observation) { got = append(got, o) }
	toServer := flow{srcPort: 40004, dstPort: 53}
	d.Decode(udpPacket(t, toServer, dnsQuery(t, 1, "bad name.example.com")), epoch, emit)
	d.Decode(udpPacket(t, toServer, dnsQuery(t, 2, "")), epoch, emit) // root
	d.Decode(udpPacket(t, flow{srcPort: 40004, dstPort: 5353}, dnsQuery(t, 3, "printer.local")), epoch, emit)
	if len(got) != 0 {
		t.Errorf("emitted %q", names(got))
	}
	if s := d.Stats(); s.Errors.BadName != 1 || s.DNSMessages != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestSNIHook(t *testing.T) {
	d := NewDecoder(layers.LinkTypeEthernet)
	var calls []bool
	d.SNI = func(payload []byte, quic bool) (string, bool) {
		calls = append(calls, quic)
		name, ok := bytes.CutPrefix(payload, []byte("hello "))
		return string(name), ok
	}
	var got []Observation
	emit := func(o Observation) { got = append(got, o) }
	tlsFlow := flow{srcPort: 50000, dstPort: 443}
	d.Decode(frame(t, layers.LinkTypeEthernet, tcpPacket(t, tlsFlow, 1, true, false, nil)), epoch, emit)
	d.Decode(frame(t, layers.LinkTypeEthernet, tcpPacket(t, tlsFlow, 2, false, false, []byte("hello Mail.Google.com"))), epoch, emit)
	d.Decode(frame(t, layers.LinkTypeEthernet, udpPacket(t, tlsFlow, []byte("hello www.youtube.com."))), epoch, emit)
	d.Decode(frame(t, layers.LinkTypeEthernet, udpPacket(t, tlsFlow, []byte("not a hello"))), epoch, emit)
	d.Decode(frame(t, layers.LinkTypeEthernet, tcpPacket(t, flow{srcPort: 443, dstPort: 50000, reply: true}, 9, false, false, []byte("hello server.example"))), epoch, emit)
	want := []string{"sni:mail.google.com", "sni:www.youtube.com"}
	if !slices.Equal(names(got), want) {
		t.Errorf("names = %q, want %q", names(got), want)
	}
	if want := []bool{false, true, true}; !slices.Equal(calls, want) {
		t.Errorf("SNI called with quic = %v, want %v", calls, want)
	}
	if s := d.Stats(); s.SNINames != 2 || s.Names != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestTablesStayBounded(t *testing.T) {
	d := NewDecoder(layers.LinkTypeRaw)
	emit := func(Observation) {}
	unfinished := []byte{0x10, 0x00, 1, 2, 3} // promises 4096 bytes, sends 3
	for port := range 2 * defaultMaxTCPFlows {
		f := flow{srcPort: uint16(20000 + port), dstPort: 53}
		d.Decode(tcpPacket(t, f, 1, false, false, unfinished), epoch, emit)
	}
	if n := len(d.tcpFlows.flows); n > defaultMaxTCPFlows {
		t.Errorf("%d TCP flows kept, limit %d", n, defaultMaxTCPFlows)
	}
	if got := d.Stats().Errors.TCPEvicted; got != defaultMaxTCPFlows {
		t.Errorf("TCPEvicted = %d, want %d", got, defaultMaxTCPFlows)
	}

	first := ipv4Fragments(t, udpPacket(t, flow{srcPort: 53, dstPort: 1, reply: true},
		bigResponse(t, 1, "a.example", "b.example", 2000)), 1024)[0]
	for id := range 2 * defaultMaxFragmentSets {
		binary.BigEndian.PutUint16(first[4:], uint16(id)) // IPv4 identification
		d.Decode(first, epoch.Add(time.Duration(id)*time.Millisecond), emit)
	}
	if n := len(d.fragments.sets); n > defaultMaxFragmentSets {
		t.Errorf("%d fragment sets kept, limit %d", n, defaultMaxFragmentSets)
	}
	// Sets older than the timeout are dropped when new fragments arrive.
	binary.BigEndian.PutUint16(first[4:], 0xffff)
	d.Decode(first, epoch.Add(time.Hour), emit)
	if n := len(d.fragments.sets); n != 1 {
		t.Errorf("%d fragment sets kept after the timeout, want 1", n)
	}
}

func TestReadPcapErrors(t *testing.T) {
	if _, err := ReadPcap(bytes.NewReader(nil), func(Observation) {}); err == nil {
		t.Error("empty input: no error")
	}
	if _, err := ReadPcap(bytes.NewReader([]byte("definitely not a capture file")), func(Observation) {}); err == nil {
		t.Error("text input: no error")
	}
	q := frame(t, layers.LinkTypeEthernet, udpPacket(t, flow{srcPort: 1, dstPort: 53}, dnsQuery(t, 1, "x.example.com")))
	capture := writePcap(t, layers.LinkTypeEthernet, q, q)
	var got int
	stats, err := ReadPcap(bytes.NewReader(capture[:len(capture)-10]), func(Observation) { got++ })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut capture: err = %v, want unexpected EOF", err)
	}
	if got != 1 || stats.Packets != 1 {
		t.Errorf("cut capture: %d names from %d packets, want the first packet", got, stats.Packets)
	}
}

func TestTooManyFragmentsIsInvalid(t *testing.T) {
	d := NewDecoder(layers.LinkTypeRaw)
	frag := ipv4Fragments(t, udpPacket(t, flow{srcPort: 53, dstPort: 1, reply: true},
		bigResponse(t, 1, "a.example", "b.example", 2000)), 1024)[0]
	for range maxFragmentPieces + 1 {
		d.Decode(frag, epoch, func(Observation) {})
	}
	if s := d.Stats(); s.Errors.FragInvalid != 1 || len(d.fragments.sets) != 0 || d.fragments.bytes != 0 {
		t.Errorf("after %d copies of one fragment: errors %+v, %d sets, %d bytes",
			maxFragmentPieces+1, s.Errors, len(d.fragments.sets), d.fragments.bytes)
	}
}

func TestLongCNAMEChainIsCapped(t *testing.T) {
	var chain []string
	for i := range 2 * maxNamesPerMessage {
		chain = append(chain, fmt.Sprintf("hop%d.example.net", i))
	}
	d := NewDecoder(layers.LinkTypeRaw)
	var got int
	msg := dnsResponse(t, 1, "start.example.com", chain...)
	d.Decode(udpPacket(t, flow{srcPort: 53, dstPort: 1, reply: true}, msg), epoch, func(Observation) { got++ })
	if s := d.Stats(); got != maxNamesPerMessage || s.Errors.TooManyNames == 0 {
		t.Errorf("emitted %d names, errors %+v; want %d and the rest counted", got, s.Errors, maxNamesPerMessage)
	}
}
