package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapngMagic is the block type of a pcapng Section Header Block; it reads
// the same in either byte order.
const pcapngMagic = 0x0A0D0D0A

type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadPcap replays a pcap or pcapng capture, calling emit for every name
// found, and returns the decoder counters. Packets of link types the decoder
// does not understand are counted as link errors. A capture cut short is
// reported as an error along with the stats of what was read.
func ReadPcap(r io.Reader, emit func(Observation)) (Stats, error) {
	return ReadPcapWith(r, nil, emit)
}

// ReadPcapWith is ReadPcap with an SNI parser for TLS and QUIC payloads
// (see Decoder.SNI); nil reads DNS only.
func ReadPcapWith(r io.Reader, sni func(payload []byte, quic bool) (string, bool), emit func(Observation)) (Stats, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return Stats{}, fmt.Errorf("capture: read capture header: %w", err)
	}

	var (
		source packetSource
		// linkTypeOf gives the link type of a packet; pcapng files may
		// mix interfaces of different link types.
		linkTypeOf func(ci gopacket.CaptureInfo) layers.LinkType
	)
	if binary.LittleEndian.Uint32(magic) == pcapngMagic {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return Stats{}, fmt.Errorf("capture: open pcapng: %w", err)
		}
		source = ng
		linkTypeOf = func(ci gopacket.CaptureInfo) layers.LinkType {
			iface, err := ng.Interface(ci.InterfaceIndex)
			if err != nil {
				return ng.LinkType()
			}
			return iface.LinkType
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return Stats{}, fmt.Errorf("capture: open pcap: %w", err)
		}
		source = pr
		linkType := pr.LinkType()
		linkTypeOf = func(gopacket.CaptureInfo) layers.LinkType { return linkType }
	}

	decoders := make(map[layers.LinkType]*Decoder, 1)
	var last *Decoder
	total := func() Stats {
		var s Stats
		for _, d := range decoders {
			s.add(d.Stats())
		}
		return s
	}
	for n := 0; ; n++ {
		data, ci, err := source.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return total(), nil
		}
		if err != nil {
			return total(), fmt.Errorf("capture: read packet %d: %w", n+1, err)
		}
		linkType := linkTypeOf(ci)
		if last == nil || last.linkType != linkType {
			last = decoders[linkType]
			if last == nil {
				last = NewDecoder(linkType)
				last.SNI = sni
				decoders[linkType] = last
			}
		}
		last.Decode(data, ci.Timestamp, emit)
	}
}
