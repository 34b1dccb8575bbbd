package agent

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/shadowmap/shadowmap/signatures"
)

// clientHello captures the first flight crypto/tls sends for serverName.
func clientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: serverName})
		tc.SetDeadline(time.Now().Add(2 * time.Second))
		tc.Handshake()
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	s.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := s.Read(buf)
	return buf[:n]
}

type pcapWriter struct {
	t  *testing.T
	w  *pcapgo.Writer
	ts time.Time
}

func (p *pcapWriter) write(transport gopacket.SerializableLayer, payload gopacket.SerializableLayer, dstPort uint16, udp bool) {
	p.t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IP{10, 0, 0, 2}, DstIP: net.IP{10, 0, 0, 1}}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if udp {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: 53001, DstPort: layers.UDPPort(dstPort)}
		u.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, eth, ip, u, payload)
	} else {
		ip.Protocol = layers.IPProtocolTCP
		tc := &layers.TCP{SrcPort: 50000, DstPort: layers.TCPPort(dstPort), PSH: true, ACK: true, Seq: 1, Window: 1024}
		tc.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(buf, opts, eth, ip, tc, payload)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.ts = p.ts.Add(time.Second)
	data := buf.Bytes()
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pcapWriter) query(name string) {
	dns := &layers.DNS{ID: 1, RD: true, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	p.write(nil, dns, 53, true)
}

// TestReplay writes a capture with DNS lookups and a TLS ClientHello and
// checks the apps the pipeline finds.
func TestReplay(t *testing.T) {
	var capBuf bytes.Buffer
	w := pcapgo.NewWriter(&capBuf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	p := &pcapWriter{t: t, w: w, ts: time.Now().Add(-time.Hour).UTC()}
	for range 3 {
		p.query("acme.slack.com")
	}
	p.query("www.notion.so")
	p.query("d1.cloudfront.net")     // noise
	p.query("intranet.corp.example") // unknown
	p.query("slack-edge.com")        // static: not use
	p.write(nil, gopacket.Payload(clientHello(t, "claude.ai")), 443, false)

	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Replay(&capBuf, c, "ann")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]AppCount{}
	for _, a := range rep.Apps {
		got[a.App] = a
	}
	if len(got) != 3 {
		t.Fatalf("apps %+v", rep.Apps)
	}
	if s := got["slack"]; s.Count != 3 || s.DNS != 3 || len(s.Tenants) != 1 || s.Tenants[0] != "acme" {
		t.Errorf("slack %+v", s)
	}
	if n := got["notion"]; n.Count != 1 {
		t.Errorf("notion %+v", n)
	}
	if cl := got["claude"]; cl.SNI != 1 {
		t.Errorf("claude %+v (SNI from the ClientHello)", cl)
	}
	if rep.Match.Noise != 1 || rep.Match.Unmatched != 1 || rep.Match.NotUse != 1 {
		t.Errorf("match stats %+v", rep.Match)
	}
}
