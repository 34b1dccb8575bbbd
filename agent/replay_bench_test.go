package agent

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/shadowmap/shadowmap/signatures"
)

// benchNames is a working day's mix: about 70% not SaaS, 30% SaaS with
// tenant subdomains.
var benchNames = []string{
	"www.google.com", "fonts.gstatic.com", "d3ag4hukkh62yn.cloudfront.net", "www.nytimes.com", "en.wikipedia.org",
	"i.ytimg.com", "ocsp.digicert.com", "swscan.apple.com", "intranet.corp.example", "www.bbc.co.uk",
	"static.xx.fbcdn.net", "api.weather.com", "www.reddit.com", "upload.wikimedia.org",
	"acme.slack.com", "acme.atlassian.net", "www.notion.so", "acme.zendesk.com", "github.com", "chatgpt.com",
}

// genCapture writes n DNS query packets (Ethernet/IPv4/UDP) to a pcap.
func genCapture(tb testing.TB, n int) []byte {
	tb.Helper()
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 2}, DstIP: net.IP{10, 0, 0, 1}}
	udp := &layers.UDP{SrcPort: 53001, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	pkts := make([][]byte, len(benchNames))
	for i, name := range benchNames {
		buf := gopacket.NewSerializeBuffer()
		dns := &layers.DNS{ID: uint16(i), RD: true, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, dns); err != nil {
			tb.Fatal(err)
		}
		pkts[i] = append([]byte(nil), buf.Bytes()...)
	}
	ts := time.Now().Add(-time.Hour)
	for i := range n {
		p := pkts[i%len(pkts)]
		w.WritePacket(gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(p), Length: len(p)}, p)
	}
	return out.Bytes()
}

// BenchmarkReplay measures the agent's whole pipeline (read the capture,
// decode, match, aggregate) in packets per second on one core: the goal is
// at least 2,000,000 and at most one allocation per packet, amortised.
func BenchmarkReplay(b *testing.B) {
	const n = 200_000
	data := genCapture(b, n)
	c, err := signatures.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	start := time.Now()
	runs := 0
	for b.Loop() {
		rep, err := Replay(bytes.NewReader(data), c, "ann")
		if err != nil || rep.Capture.Packets != n {
			b.Fatalf("replay: %v, %d packets", err, rep.Capture.Packets)
		}
		runs++
	}
	b.ReportMetric(float64(n*runs)/time.Since(start).Seconds(), "packets/s")
	b.ReportMetric(float64(n), "packets/op")
}
