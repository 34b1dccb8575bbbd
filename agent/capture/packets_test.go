package capture

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Helpers that build the packets the tests replay, with gopacket's own
// serializers, so fixtures are written by the project and not recorded.

var (
	clientIP4 = net.IP{10, 0, 0, 7}
	serverIP4 = net.IP{10, 0, 0, 1}
	clientIP6 = net.ParseIP("fd00::7")
	serverIP6 = net.ParseIP("fd00::1")
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 7}
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	epoch     = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func dnsQuery(t testing.TB, id uint16, name string) []byte {
	t.Helper()
	return serialize(t, &layers.DNS{
		ID: id, RD: true,
		Questions:   []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Additionals: []layers.DNSResourceRecord{{Type: layers.DNSTypeOPT, Class: 1232}},
	})
}

// dnsResponse answers qname with a CNAME chain through targets, ending in an
// A record for the last name.
func dnsResponse(t testing.TB, id uint16, qname string, targets ...string) []byte {
	t.Helper()
	msg := &layers.DNS{
		ID: id, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(qname), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
	}
	owner := qname
	for _, target := range targets {
		msg.Answers = append(msg.Answers, layers.DNSResourceRecord{
			Name: []byte(owner), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 300, CNAME: []byte(target),
		})
		owner = target
	}
	msg.Answers = append(msg.Answers, layers.DNSResourceRecord{
		Name: []byte(owner), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 60, IP: net.IP{192, 0, 2, 10},
	})
	return serialize(t, msg)
}

// bigResponse answers qname with a CNAME to target and enough TXT records
// to make it size bytes or larger; used to force fragmentation.
func bigResponse(t testing.TB, id uint16, qname, target string, size int) []byte {
	t.Helper()
	msg := &layers.DNS{
		ID: id, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(qname), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{{
			Name: []byte(qname), Type: layers.DNSTypeCNAME, Class: layers.DNSClassIN, TTL: 300, CNAME: []byte(target),
		}},
	}
	for n := 0; n < size; n += 250 {
		msg.Answers = append(msg.Answers, layers.DNSResourceRecord{
			Name: []byte(target), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TTL: 60,
			TXTs: [][]byte{bytes.Repeat([]byte{'v'}, 240)},
		})
	}
	return serialize(t, msg)
}

// flow describes the addresses of a packet; ipv6 picks the family.
type flow struct {
	ipv6             bool
	srcPort, dstPort uint16
	reply            bool // swap client and server addresses
}

func (f flow) addrs() (src, dst net.IP) {
	src, dst = clientIP4, serverIP4
	if f.ipv6 {
		src, dst = clientIP6, serverIP6
	}
	if f.reply {
		src, dst = dst, src
	}
	return src, dst
}

func (f flow) ipLayer(proto layers.IPProtocol) gopacket.NetworkLayer {
	src, dst := f.addrs()
	if f.ipv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	}
	return &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Protocol: proto, SrcIP: src, DstIP: dst}
}

// udpPacket is an IP packet (no link header) carrying payload over UDP.
func udpPacket(t testing.TB, f flow, payload []byte) []byte {
	t.Helper()
	ip := f.ipLayer(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(f.srcPort), DstPort: layers.UDPPort(f.dstPort)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
}

// tcpPacket is an IP packet (no link header) carrying one TCP segment.
func tcpPacket(t testing.TB, f flow, seq uint32, syn, fin bool, payload []byte) []byte {
	t.Helper()
	ip := f.ipLayer(layers.IPProtocolTCP)
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.srcPort), DstPort: layers.TCPPort(f.dstPort),
		Seq: seq, SYN: syn, FIN: fin, ACK: !syn, PSH: len(payload) > 0, Window: 65535,
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

// ipv4Fragments splits an IPv4 packet into fragments carrying at most
// chunk bytes (a multiple of 8) of its payload each.
func ipv4Fragments(t testing.TB, packet []byte, chunk int) [][]byte {
	t.Helper()
	var ip layers.IPv4
	if err := ip.DecodeFromBytes(packet, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	payload := ip.Payload
	var out [][]byte
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		frag := layers.IPv4{
			Version: 4, TTL: 64, Id: ip.Id, Protocol: ip.Protocol, SrcIP: ip.SrcIP, DstIP: ip.DstIP,
			FragOffset: uint16(off / 8),
		}
		if end < len(payload) {
			frag.Flags = layers.IPv4MoreFragments
		}
		out = append(out, serialize(t, &frag, gopacket.Payload(payload[off:end])))
	}
	return out
}

// ipv6Fragments splits an IPv6 packet (no extension headers) into
// fragments with a Fragment extension header.
func ipv6Fragments(t testing.TB, packet []byte, chunk int, id uint32) [][]byte {
	t.Helper()
	var ip layers.IPv6
	if err := ip.DecodeFromBytes(packet, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	payload := ip.Payload
	var out [][]byte
	for off := 0; off < len(payload); off += chunk {
		end := min(off+chunk, len(payload))
		hdr := layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: ip.SrcIP, DstIP: ip.DstIP}
		frag := layers.IPv6Fragment{
			NextHeader: ip.NextHeader, FragmentOffset: uint16(off / 8),
			MoreFragments: end < len(payload), Identification: id,
		}
		out = append(out, serialize(t, &hdr, &frag, gopacket.Payload(payload[off:end])))
	}
	return out
}

// frame puts a link header of the given type in front of an IP packet.
func frame(t testing.TB, link layers.LinkType, ipPacket []byte) []byte {
	t.Helper()
	v6 := ipPacket[0]>>4 == 6
	etherType := layers.EthernetTypeIPv4
	family := layers.ProtocolFamilyIPv4
	if v6 {
		etherType = layers.EthernetTypeIPv6
		family = layers.ProtocolFamilyIPv6BSD
	}
	switch link {
	case layers.LinkTypeEthernet:
		return serialize(t, &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: etherType}, gopacket.Payload(ipPacket))
	case layers.LinkTypeNull:
		return serialize(t, &layers.Loopback{Family: family}, gopacket.Payload(ipPacket))
	case layers.LinkTypeLinuxSLL:
		// Packet type, ARPHRD_ETHER, address length, address (8), protocol.
		hdr := make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[0:], 4) // outgoing
		binary.BigEndian.PutUint16(hdr[2:], 1)
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], clientMAC)
		binary.BigEndian.PutUint16(hdr[14:], uint16(etherType))
		return append(hdr, ipPacket...)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return append([]byte(nil), ipPacket...)
	}
	t.Fatalf("frame: link type %v not supported by the test helper", link)
	return nil
}

// vlanFrame is an Ethernet frame with one 802.1Q tag.
func vlanFrame(t testing.TB, ipPacket []byte) []byte {
	t.Helper()
	return serialize(t,
		&layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
		gopacket.Payload(ipPacket))
}

// writePcap writes frames into an in-memory pcap file, one millisecond apart.
func writePcap(t testing.TB, link layers.LinkType, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65536, link); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: epoch.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writePcapng is writePcap in pcapng format.
func writePcapng(t testing.TB, link layers.LinkType, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, link)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: epoch.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// replay runs a capture through ReadPcap and returns the names by source.
func replay(t testing.TB, capture []byte) ([]Observation, Stats) {
	t.Helper()
	var got []Observation
	stats, err := ReadPcap(bytes.NewReader(capture), func(o Observation) { got = append(got, o) })
	if err != nil {
		t.Fatalf("ReadPcap: %v", err)
	}
	return got, stats
}

func names(obs []Observation) []string {
	out := make([]string, 0, len(obs))
	for _, o := range obs {
		out = append(out, o.Source+":"+o.Name)
	}
	return out
}
