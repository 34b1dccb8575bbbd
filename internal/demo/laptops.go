package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/shadowmap/shadowmap/agent"
	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/capture"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/signatures"
)

// historyDays is how far back the laptops' captures reach: the agent API
// takes sightings up to api.MaxSightingAge old.
const historyDays = 30

// noiseNames are lookups every laptop makes that are not apps: the
// catalog's noise list and the agent drop them.
var noiseNames = []string{"fonts.googleapis.com", "d1a2b3c4d5e6f7.cloudfront.net", "www.google-analytics.com",
	"ocsp.digicert.com", "time.apple.com", "settings-win.data.microsoft.com", "connectivity-check.ubuntu.com",
	"cdn.jsdelivr.net", "stats.g.doubleclick.net"}

// unknownNames match no app and no noise entry: the agent never uploads
// them (unknown-domain telemetry is off by default).
var unknownNames = []string{"intranet.acme.example", "wiki.acme.example", "build.acme.example", "tinyrecipes.io",
	"local-news-daily.com", "weather-now.example", "printer-3f.acme.example"}

// captureWriter writes one laptop's traffic as a pcap file.
type captureWriter struct {
	w   *pcapgo.Writer
	buf gopacket.SerializeBuffer
	ip  net.IP
	id  uint16
}

func newCaptureWriter(out *bytes.Buffer, ip net.IP) (*captureWriter, error) {
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	return &captureWriter{w: w, buf: gopacket.NewSerializeBuffer(), ip: ip}, nil
}

var (
	laptopMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	gatewayMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xfe}
	resolverIP = net.IP{10, 20, 0, 53}
)

// packet writes one Ethernet/IPv4 packet at t.
func (c *captureWriter) packet(t time.Time, dst net.IP, dstPort uint16, udp bool, payload gopacket.SerializableLayer) error {
	eth := &layers.Ethernet{SrcMAC: laptopMAC, DstMAC: gatewayMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: c.ip, DstIP: dst}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	var err error
	if udp {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: layers.UDPPort(49152 + c.id%16000), DstPort: layers.UDPPort(dstPort)}
		u.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(c.buf, opts, eth, ip, u, payload)
	} else {
		ip.Protocol = layers.IPProtocolTCP
		tc := &layers.TCP{SrcPort: layers.TCPPort(49152 + c.id%16000), DstPort: layers.TCPPort(dstPort), PSH: true, ACK: true, Seq: 1, Window: 4096}
		tc.SetNetworkLayerForChecksum(ip)
		err = gopacket.SerializeLayers(c.buf, opts, eth, ip, tc, payload)
	}
	if err != nil {
		return err
	}
	c.id++
	data := c.buf.Bytes()
	return c.w.WritePacket(gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(data)}, data)
}

// lookup writes a DNS query for name.
func (c *captureWriter) lookup(t time.Time, name string) error {
	q := &layers.DNS{ID: c.id, RD: true, Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	return c.packet(t, resolverIP, 53, true, q)
}

// connect writes the TLS ClientHello a browser sends to name.
func (c *captureWriter) connect(t time.Time, name string, hello []byte) error {
	return c.packet(t, net.IP{203, 0, 113, byte(len(name))}, 443, false, gopacket.Payload(hello))
}

// clientHellos caches real ClientHellos from crypto/tls, one per server
// name, so that the agent's SNI parser reads what a browser sends.
type clientHellos struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (h *clientHellos) get(name string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.m[name]; ok {
		return b, nil
	}
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		tc := tls.Client(c, &tls.Config{ServerName: name})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake() // fails once the pipe closes: only the first flight matters
		c.Close()
	}()
	buf := make([]byte, 16<<10)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := s.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("client hello for %s: %w", name, err)
	}
	if h.m == nil {
		h.m = map[string][]byte{}
	}
	h.m[name] = buf[:n]
	return buf[:n], nil
}

// laptopCapture writes a person's laptop traffic over the last
// historyDays days, up to now: app lookups on working days, TLS
// connections to some of them, and noise and unknown names the agent
// must drop.
func laptopCapture(p *person, index int, seed uint64, now time.Time, hellos *clientHellos) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(index)+1))
	var out bytes.Buffer
	cw, err := newCaptureWriter(&out, net.IP{10, 20, byte(1 + index/250), byte(1 + index%250)})
	if err != nil {
		return nil, err
	}
	type event struct {
		t    time.Time
		name string
		tls  bool
	}
	today := now.UTC().Truncate(24 * time.Hour)
	// Some laptops were enrolled recently: their history is shorter.
	days := historyDays
	if rng.IntN(5) == 0 {
		days = 3 + rng.IntN(historyDays-3)
	}
	var events []event
	for d := days - 1; d >= 0; d-- {
		day := today.AddDate(0, 0, -d)
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		if weekend && rng.IntN(6) != 0 || !weekend && rng.IntN(12) == 0 {
			continue // off, or on leave
		}
		at := func() time.Time {
			return day.Add(7*time.Hour + time.Duration(rng.IntN(11*3600))*time.Second)
		}
		for _, u := range p.Apps {
			if rng.Float64() >= u.Daily || len(u.Hosts) == 0 {
				continue
			}
			host := u.Hosts[0]
			if len(u.Hosts) > 1 && rng.IntN(3) == 0 {
				host = u.Hosts[1+rng.IntN(len(u.Hosts)-1)]
			}
			for range 1 + rng.IntN(5) {
				events = append(events, event{t: at(), name: host})
			}
			if rng.IntN(3) == 0 {
				events = append(events, event{t: at(), name: host, tls: true})
			}
		}
		for range 3 + rng.IntN(6) {
			events = append(events, event{t: at(), name: noiseNames[rng.IntN(len(noiseNames))]})
		}
		for range rng.IntN(4) {
			events = append(events, event{t: at(), name: unknownNames[rng.IntN(len(unknownNames))]})
		}
	}
	// A capture is in time order, and never in the future.
	cutoff := now.Add(-time.Minute)
	sort.SliceStable(events, func(i, j int) bool { return events[i].t.Before(events[j].t) })
	for _, e := range events {
		if e.t.After(cutoff) {
			continue
		}
		if e.tls {
			hello, err := hellos.get(e.name)
			if err != nil {
				return nil, err
			}
			err = cw.connect(e.t, e.name, hello)
		} else {
			err = cw.lookup(e.t, e.name)
		}
		if err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// replayLaptop runs the agent's pipeline over a capture, as the agent
// does on the laptop: decode DNS and TLS server names, match them
// against the catalog, aggregate per app, domain, user and day.
func replayLaptop(pcap []byte, c *signatures.Catalog, user string) ([]api.Sighting, capture.Stats, aggregate.Stats, error) {
	agg := aggregate.New(c)
	cs, err := capture.ReadPcapWith(bytes.NewReader(pcap), agent.SNI, func(o capture.Observation) {
		src := aggregate.SourceDNS
		if o.Source == capture.SourceSNI {
			src = aggregate.SourceSNI
		}
		agg.Observe(o.Name, src, user, o.Time)
	})
	if err != nil {
		return nil, cs, agg.Stats(), err
	}
	return agg.Flush(), cs, agg.Stats(), nil
}

// uploadLaptop enrolls a laptop with the collector and uploads its
// sightings in batches, then reports its health, as the agent does.
func uploadLaptop(ctx context.Context, client *api.Client, secret string, p *person, sightings []api.Sighting, packets uint64) error {
	resp, err := client.Enroll(ctx, api.EnrollRequest{
		EnrollSecret: secret, Hostname: p.Laptop.Hostname, OS: p.Laptop.OS, AgentVersion: agentVersion,
		User: p.User, OwnerEmail: p.Email,
	})
	if err != nil {
		return fmt.Errorf("enroll %s: %w", p.Laptop.Hostname, err)
	}
	dev := client.WithToken(resp.DeviceToken)
	for i := 0; i < len(sightings); i += api.MaxSightings {
		b := api.SightingsBatch{
			BatchID:      fmt.Sprintf("%s-%d", resp.DeviceID, i/api.MaxSightings),
			AgentVersion: agentVersion,
			Sightings:    sightings[i:min(i+api.MaxSightings, len(sightings))],
		}
		if _, err := dev.SendSightings(ctx, b); err != nil {
			return fmt.Errorf("upload from %s: %w", p.Laptop.Hostname, err)
		}
	}
	return dev.Heartbeat(ctx, api.Heartbeat{AgentVersion: agentVersion, CaptureState: "running", PacketsSeen: packets, User: p.User})
}

// agentVersion is what the simulated agents report.
const agentVersion = "demo"
