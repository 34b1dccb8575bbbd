package capture

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// filterTCPSegment is an IP packet with one TCP segment whose PSH flag is
// chosen by the caller (tcpPacket sets PSH whenever there is a payload).
func filterTCPSegment(t testing.TB, f flow, psh bool, payload []byte) []byte {
	t.Helper()
	ip := f.ipLayer(layers.IPProtocolTCP)
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.srcPort), DstPort: layers.TCPPort(f.dstPort),
		Seq: 1000, ACK: true, PSH: psh, Window: 65535,
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

// padEthernet pads a frame to the 60-byte Ethernet minimum, as a NIC does
// with a bare ACK.
func padEthernet(frame []byte) []byte {
	if len(frame) >= 60 {
		return frame
	}
	return append(frame, make([]byte, 60-len(frame))...)
}

func TestCaptureFilter(t *testing.T) {
	const snapLen = 1500
	query := dnsQuery(t, 1, "app.example.com")
	clientHello := []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}
	// The second segment of a split ClientHello: the middle of a key share.
	continuation := bytes.Repeat([]byte{0x5a, 0x01}, 300)
	appData := []byte{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}
	quicInitial := []byte{0xc3, 0x00, 0x00, 0x00, 0x01, 0x08}
	quicShort := []byte{0x43, 0x01, 0x02, 0x03}
	bigUDP4 := udpPacket(t, flow{srcPort: 53, dstPort: 40000}, bytes.Repeat([]byte{0}, 3000))
	bigUDP6 := udpPacket(t, flow{ipv6: true, srcPort: 53, dstPort: 40000}, bytes.Repeat([]byte{0}, 3000))
	frags4 := ipv4Fragments(t, bigUDP4, 1400)
	frags6 := ipv6Fragments(t, bigUDP6, 1400, 7)
	to443 := flow{srcPort: 40000, dstPort: 443}
	to443v6 := flow{ipv6: true, srcPort: 40000, dstPort: 443}

	tests := []struct {
		name   string
		packet []byte // an IP packet; each link type frames it
		keep   bool
	}{
		{"udp4 dns query", udpPacket(t, flow{srcPort: 40000, dstPort: 53}, query), true},
		{"udp6 dns query", udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 53}, query), true},
		{"udp4 dns response", udpPacket(t, flow{srcPort: 53, dstPort: 40000, reply: true}, query), true},
		{"udp6 dns response", udpPacket(t, flow{ipv6: true, srcPort: 53, dstPort: 40000, reply: true}, query), true},
		{"tcp4 dns syn", tcpPacket(t, flow{srcPort: 40000, dstPort: 53}, 1, true, false, nil), true},
		{"tcp4 dns query", tcpPacket(t, flow{srcPort: 40000, dstPort: 53}, 1, false, false, lengthPrefixed(query)), true},
		{"tcp6 dns response", tcpPacket(t, flow{ipv6: true, srcPort: 53, dstPort: 40000, reply: true}, 1, false, false, query), true},
		{"tcp4 client hello", tcpPacket(t, to443, 1, false, false, clientHello), true},
		{"tcp6 client hello", tcpPacket(t, to443v6, 1, false, false, clientHello), true},
		{"tcp4 client hello without psh", filterTCPSegment(t, to443, false, clientHello), true},
		{"tcp4 continuation with psh", filterTCPSegment(t, to443, true, continuation), true},
		{"tcp6 continuation with psh", filterTCPSegment(t, to443v6, true, continuation), true},
		{"tcp4 bulk without psh", filterTCPSegment(t, to443, false, continuation), false},
		{"tcp6 bulk without psh", filterTCPSegment(t, to443v6, false, continuation), false},
		{"tcp4 tls application data", tcpPacket(t, to443, 1, false, false, appData), false},
		{"tcp6 tls application data", tcpPacket(t, to443v6, 1, false, false, appData), false},
		{"tcp4 ack with psh no payload", filterTCPSegment(t, to443, true, nil), false},
		{"tcp6 ack with psh no payload", filterTCPSegment(t, to443v6, true, nil), false},
		{"tcp4 443 syn", tcpPacket(t, to443, 1, true, false, nil), false},
		{"tcp4 server hello", tcpPacket(t, flow{srcPort: 443, dstPort: 40000, reply: true}, 1, false, false, clientHello), false},
		{"tcp4 server data with psh", filterTCPSegment(t, flow{srcPort: 443, dstPort: 40000, reply: true}, true, continuation), false},
		{"udp4 quic initial", udpPacket(t, to443, quicInitial), true},
		{"udp6 quic initial", udpPacket(t, to443v6, quicInitial), true},
		{"udp4 quic short header", udpPacket(t, to443, quicShort), false},
		{"udp6 quic short header", udpPacket(t, to443v6, quicShort), false},
		{"udp4 other port", udpPacket(t, flow{srcPort: 40000, dstPort: 123}, query), false},
		{"tcp6 other port", tcpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 80}, 1, false, false, clientHello), false},
		{"ipv4 first fragment", frags4[0], true},
		{"ipv4 later fragment", frags4[1], true},
		{"ipv6 first fragment", frags6[0], true},
		{"ipv6 later fragment", frags6[1], true},
		{"truncated ipv4", udpPacket(t, flow{srcPort: 40000, dstPort: 53}, query)[:16], false},
	}
	links := []layers.LinkType{layers.LinkTypeRaw, layers.LinkTypeEthernet, layers.LinkTypeNull}
	for _, link := range links {
		cfg, ok := linkFilterConfig(link, snapLen)
		if !ok {
			t.Fatalf("no filter for %v", link)
		}
		vm := newFilterVM(t, cfg)
		want := func(keep bool) int {
			if keep {
				return snapLen
			}
			return 0
		}
		t.Run(link.String(), func(t *testing.T) {
			for _, tt := range tests {
				packet := frame(t, link, tt.packet)
				if link == layers.LinkTypeEthernet {
					packet = padEthernet(packet)
				}
				got, err := vm.Run(packet)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if got != want(tt.keep) {
					t.Errorf("%s: filter returned %d, want %d", tt.name, got, want(tt.keep))
				}
			}
		})
	}

	// Packets that are not IP, per link type.
	arp := serialize(t, &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: clientMAC, SourceProtAddress: clientIP4,
			DstHwAddress: make([]byte, 6), DstProtAddress: serverIP4})
	v6Query := udpPacket(t, flow{ipv6: true, srcPort: 40000, dstPort: 53}, query)
	mislabelled := serialize(t, &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4},
		gopacket.Payload(v6Query))
	notIP := []struct {
		name   string
		link   layers.LinkType
		packet []byte
	}{
		{"raw not ip", layers.LinkTypeRaw, []byte{0x00, 0x01, 0x08, 0x00, 0x06, 0x04}},
		{"raw empty", layers.LinkTypeRaw, nil},
		{"ethernet arp", layers.LinkTypeEthernet, arp},
		{"ethernet vlan", layers.LinkTypeEthernet, vlanFrame(t, udpPacket(t, flow{srcPort: 40000, dstPort: 53}, query))},
		{"ethernet ipv4 type with ipv6 packet", layers.LinkTypeEthernet, mislabelled},
		{"ethernet runt", layers.LinkTypeEthernet, arp[:10]},
		{"null short", layers.LinkTypeNull, []byte{2, 0, 0}},
	}
	for _, tt := range notIP {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := linkFilterConfig(tt.link, snapLen)
			got, err := newFilterVM(t, cfg).Run(tt.packet)
			if err != nil {
				t.Fatal(err)
			}
			if got != 0 {
				t.Errorf("filter returned %d, want 0", got)
			}
		})
	}
}

func newFilterVM(t *testing.T, cfg filterConfig) *bpf.VM {
	t.Helper()
	prog, err := captureFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// TestCaptureFilterLoopbackRule checks that the Linux loopback rule, which
// bpf.VM cannot run, still assembles for every link header.
func TestCaptureFilterLoopbackRule(t *testing.T) {
	for _, link := range []layers.LinkType{layers.LinkTypeRaw, layers.LinkTypeEthernet, layers.LinkTypeNull} {
		cfg, _ := linkFilterConfig(link, defaultSnapLen)
		cfg.dropLoopbackOutgoing = true
		prog, err := captureFilter(cfg)
		if err != nil {
			t.Fatalf("%v: %v", link, err)
		}
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatalf("%v: %v", link, err)
		}
	}
}

func TestLinkFilterConfigUnknown(t *testing.T) {
	if _, ok := linkFilterConfig(layers.LinkTypeIEEE80211Radio, defaultSnapLen); ok {
		t.Error("radiotap frames have no fixed link header; the filter must refuse them")
	}
}
