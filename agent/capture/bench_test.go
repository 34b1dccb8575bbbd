package capture

import (
	"math/rand/v2"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// realisticNames returns n query names shaped like a laptop's traffic: SaaS
// apps with tenants, API and CDN hosts, and common infrastructure.
func realisticNames(n int) []string {
	bases := []string{
		"slack.com", "zendesk.com", "atlassian.net", "notion.so", "figma.com", "zoom.us",
		"salesforce.com", "hubspot.com", "dropbox.com", "box.com", "github.com", "gitlab.com",
		"google.com", "googleapis.com", "gstatic.com", "microsoft.com", "office.com", "live.com",
		"apple.com", "icloud.com", "amazonaws.com", "cloudfront.net", "akamaiedge.net", "fastly.net",
		"okta.com", "auth0.com", "docusign.net", "airtable.com", "asana.com", "trello.com",
		"miro.com", "canva.com", "loom.com", "intercom.io", "segment.io", "sentry.io",
		"datadoghq.com", "newrelic.com", "stripe.com", "shopify.com", "monday.com", "clickup.com",
		"linear.app", "vercel.app", "netlify.app", "openai.com", "anthropic.com", "grammarly.com",
	}
	prefixes := []string{"www", "api", "app", "cdn", "login", "static", "files", "edge", "ws", "events"}
	tenants := []string{"acme", "globex", "initech", "umbrella", "hooli", "piedpiper", "stark", "wayne"}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		base := bases[rng.IntN(len(bases))]
		switch rng.IntN(4) {
		case 0:
			out[i] = base
		case 1:
			out[i] = tenants[rng.IntN(len(tenants))] + "." + base
		default:
			out[i] = prefixes[rng.IntN(len(prefixes))] + "." + base
		}
	}
	return out
}

// BenchmarkDecodeDNS decodes Ethernet/IPv4/UDP DNS queries (with an EDNS
// OPT record, as resolvers send them) from an in-memory set of 10,000.
func BenchmarkDecodeDNS(b *testing.B) {
	const setSize = 10_000
	packets := make([][]byte, setSize)
	for i, name := range realisticNames(setSize) {
		f := flow{srcPort: uint16(32768 + i%20000), dstPort: 53}
		packets[i] = frame(b, layers.LinkTypeEthernet, udpPacket(b, f, dnsQuery(b, uint16(i), name)))
	}
	benchmarkDecode(b, packets, setSize)
}

// BenchmarkDecodeDNSResponses decodes responses with a CNAME chain.
func BenchmarkDecodeDNSResponses(b *testing.B) {
	const setSize = 10_000
	packets := make([][]byte, setSize)
	for i, name := range realisticNames(setSize) {
		f := flow{srcPort: 53, dstPort: uint16(32768 + i%20000), reply: true}
		packets[i] = frame(b, layers.LinkTypeEthernet, udpPacket(b, f, dnsResponse(b, uint16(i), name, "edge."+name+".cdn.example")))
	}
	benchmarkDecode(b, packets, 2*setSize) // the question, which is also the CNAME owner, and the target
}

func benchmarkDecode(b *testing.B, packets [][]byte, wantNamesPerPass int) {
	d := NewDecoder(layers.LinkTypeEthernet)
	var seen int
	emit := func(Observation) { seen++ }
	// One pass first, so the intern table is warm as it is in a long run.
	for _, p := range packets {
		d.Decode(p, epoch, emit)
	}
	if seen != wantNamesPerPass {
		b.Fatalf("warm-up pass emitted %d names, want %d", seen, wantNamesPerPass)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(packets[i%len(packets)], epoch, emit)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if s := d.Stats(); s.Errors.Total() != 0 {
		b.Fatalf("errors: %+v", s.Errors)
	}
}
