package capture

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/shadowmap/shadowmap/agent/capture/sni"
)

const (
	dnsPort   = 53
	tlsPort   = 443
	ipv4Proto = 4
	ipv6Proto = 6
)

// Decoder extracts domain names from raw packets of one link type. It is not
// safe for concurrent use; use one Decoder per capture goroutine.
type Decoder struct {
	// SNI, when set, is called with the payload of TCP segments and UDP
	// datagrams sent to port 443 (quic reports which). When it returns a
	// name and true, the name is emitted with Source "sni". Package
	// capture/sni provides the implementation; it must not retain payload.
	//
	// A ClientHello too long for one packet is reassembled while SNI is
	// set: over TCP, the segments that follow a ClientHello's first are
	// appended to it and SNI is called again with the bytes so far; over
	// QUIC, a client Initial packet in which SNI finds no name goes to a
	// sni.QUICReassembler, which decrypts it and joins its CRYPTO frames
	// with those of the connection's other Initial packets; the later
	// Initial packets of a connection it follows go to it directly, without
	// SNI.
	SNI func(payload []byte, quic bool) (string, bool)

	linkType layers.LinkType
	// parser decodes from the link layer; for raw-IP link types parser4 and
	// parser6 are picked per packet by the IP version nibble instead.
	parser, parser4, parser6 *gopacket.DecodingLayerParser
	decoded                  []gopacket.LayerType

	eth      layers.Ethernet
	dot1q    layers.Dot1Q
	sll      layers.LinuxSLL
	sll2     layers.LinuxSLL2
	loopback layers.Loopback
	ip4      layers.IPv4
	ip6      layers.IPv6
	ip6frag  layers.IPv6Fragment
	udp      layers.UDP
	tcp      layers.TCP
	dns      layers.DNS

	tcpFlows  flowTable
	tlsFlows  tlsFlowTable
	quic      sni.QUICReassembler
	fragments fragmentTable
	names     internTable
	// msgNames holds the names already emitted for the current DNS message,
	// so that a question repeated as a CNAME owner is emitted once.
	msgNames []string

	stats Stats
}

// NewDecoder returns a Decoder for packets of the given link type. Ethernet
// (with VLAN tags), Linux SLL and SLL2, NULL/loopback and raw IPv4/IPv6 are
// understood; packets of any other link type are counted as link errors.
func NewDecoder(linkType layers.LinkType) *Decoder {
	d := &Decoder{
		linkType:  linkType,
		decoded:   make([]gopacket.LayerType, 0, 16),
		tcpFlows:  newFlowTable(defaultMaxTCPFlows, defaultMaxTCPBytes),
		tlsFlows:  newTLSFlowTable(defaultMaxTLSFlows, defaultMaxTLSBytes),
		fragments: newFragmentTable(defaultMaxFragmentSets, defaultMaxFragmentBytes, defaultFragmentTimeout),
		names:     newInternTable(defaultMaxInternedNames),
		msgNames:  make([]string, 0, 16),
	}
	decoders := []gopacket.DecodingLayer{
		&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loopback,
		&d.ip4, &d.ip6, &d.ip6frag, &d.udp, &d.tcp,
	}
	newParser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		container := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, dl := range decoders {
			container = container.Put(dl)
		}
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(container)
		// Payloads we do not decode (DNS, TLS, anything else) end the
		// parse without an error; we look at them ourselves.
		p.IgnoreUnsupported = true
		return p
	}
	switch linkType {
	case layers.LinkTypeEthernet:
		d.parser = newParser(layers.LayerTypeEthernet)
	case layers.LinkTypeLinuxSLL:
		d.parser = newParser(layers.LayerTypeLinuxSLL)
	case layers.LinkTypeLinuxSLL2:
		d.parser = newParser(layers.LayerTypeLinuxSLL2)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		d.parser = newParser(layers.LayerTypeLoopback)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		d.parser4 = newParser(layers.LayerTypeIPv4)
		d.parser6 = newParser(layers.LayerTypeIPv6)
	}
	return d
}

// LinkType is the link type the Decoder was built for.
func (d *Decoder) LinkType() layers.LinkType { return d.linkType }

// Stats returns a copy of the counters.
func (d *Decoder) Stats() Stats {
	s := d.stats
	q := d.quic.Stats()
	s.SNIReassembled += q.Names
	s.Errors.QUICEvicted = q.Evicted
	return s
}

// Decode decodes one packet captured at ts and calls emit for every name
// found. data is not retained after Decode returns.
func (d *Decoder) Decode(data []byte, ts time.Time, emit func(Observation)) {
	d.stats.Packets++
	parser := d.parser
	if parser == nil {
		switch {
		case d.parser4 == nil || len(data) == 0:
			d.stats.Errors.Link++
			return
		case data[0]>>4 == ipv4Proto:
			parser = d.parser4
		case data[0]>>4 == ipv6Proto:
			parser = d.parser6
		default:
			d.stats.Errors.Link++
			return
		}
	}
	// A decode error still leaves the layers before it in d.decoded; only
	// a fully decoded transport layer is used below.
	err := parser.DecodeLayers(data, &d.decoded)

	var (
		lastIP   gopacket.LayerType // the innermost IP layer decoded
		fragment bool
		udpOK    bool
		tcpOK    bool
	)
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			lastIP = lt
			fragment = d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0
		case layers.LayerTypeIPv6:
			lastIP = lt
			fragment = false
		case layers.LayerTypeIPv6Fragment:
			fragment = d.ip6frag.MoreFragments || d.ip6frag.FragmentOffset != 0
		case layers.LayerTypeUDP:
			udpOK = true
		case layers.LayerTypeTCP:
			tcpOK = true
		}
	}
	if err != nil && !udpOK && !tcpOK {
		d.stats.Errors.Link++
		return
	}
	if fragment && !udpOK && !tcpOK {
		d.handleFragment(lastIP, ts, emit)
		return
	}
	switch {
	case udpOK:
		d.handleUDP(ts, emit)
	case tcpOK:
		d.handleTCP(d.flowKey(lastIP), ts, emit)
	}
}

// handleUDP looks at d.udp, freshly decoded.
func (d *Decoder) handleUDP(ts time.Time, emit func(Observation)) {
	switch {
	case d.udp.SrcPort == dnsPort || d.udp.DstPort == dnsPort:
		d.handleDNSMessage(d.udp.Payload, ts, emit)
	case d.udp.DstPort == tlsPort && d.SNI != nil && len(d.udp.Payload) > 0:
		d.handleQUIC(d.udp.Payload, ts, emit)
	}
}

// handleTCP looks at d.tcp, freshly decoded, of the flow key.
func (d *Decoder) handleTCP(key flowKey, ts time.Time, emit func(Observation)) {
	switch {
	case d.tcp.SrcPort == dnsPort || d.tcp.DstPort == dnsPort:
		d.handleDNSOverTCP(key, ts, emit)
	case d.tcp.DstPort == tlsPort && d.SNI != nil && len(d.tcp.Payload) > 0:
		d.handleTLSSegment(key, ts, emit)
	}
}

// handleQUIC looks for a server name in a UDP payload sent to port 443:
// first in the packet alone, then in the CRYPTO stream of its connection.
// A packet of a connection the reassembler already follows goes straight
// to it, which saves deriving the keys again.
func (d *Decoder) handleQUIC(payload []byte, ts time.Time, emit func(Observation)) {
	var (
		raw string
		ok  bool
	)
	if !d.quic.Follows(payload) {
		raw, ok = d.SNI(payload, true)
	}
	if !ok {
		raw, ok = d.quic.Add(payload, ts)
	}
	if ok {
		d.emitSNI(raw, ts, emit)
	}
}

// emitSNI emits a server name the SNI hook or a reassembler returned and
// reports whether it was a valid name.
func (d *Decoder) emitSNI(raw string, ts time.Time, emit func(Observation)) bool {
	name, ok := normalizeName(&d.names, raw)
	if !ok {
		d.stats.Errors.BadName++
		return false
	}
	d.stats.SNINames++
	emit(Observation{Time: ts, Name: name, Source: SourceSNI})
	return true
}

// flowKey builds the TCP 4-tuple from the innermost IP layer and d.tcp.
func (d *Decoder) flowKey(ip gopacket.LayerType) flowKey {
	var k flowKey
	if ip == layers.LayerTypeIPv4 {
		copy(k.src[:], d.ip4.SrcIP)
		copy(k.dst[:], d.ip4.DstIP)
	} else {
		copy(k.src[:], d.ip6.SrcIP)
		copy(k.dst[:], d.ip6.DstIP)
		k.v6 = true
	}
	k.srcPort = uint16(d.tcp.SrcPort)
	k.dstPort = uint16(d.tcp.DstPort)
	return k
}
