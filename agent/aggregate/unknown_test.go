package aggregate

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/shadowmap/shadowmap/collector/api"
)

func TestUnknownDomainsOffByDefault(t *testing.T) {
	a := New(catalog(t))
	a.Observe("www.example-unknown-shop.com", SourceDNS, "ann", time.Now())
	if st := a.Stats(); st.Unmatched != 1 || st.UnknownCounted != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := a.FlushUnknownDomains(); got != nil {
		t.Errorf("telemetry off, flushed %+v", got)
	}
	s, u := a.FlushAll()
	if len(s) != 0 || u != nil || a.Len() != 0 {
		t.Errorf("FlushAll = %+v, %+v", s, u)
	}
}

func TestUnknownDomains(t *testing.T) {
	a := New(catalog(t), WithUnknownDomains(UnknownDomainOptions{OwnDomains: []string{" Acme-Corp.example.com. ", "", "acmeinc.net"}}))
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	names := []struct {
		name string
		at   time.Duration
	}{
		{"www.tinyshop.com", 0},
		{"cdn.TinyShop.com.", time.Hour},
		{"api.tinyshop.com", 20 * time.Hour}, // next UTC day
		{"news.bbc.co.uk", 0},
		{"acme.slack.com", 0},             // an app: a sighting, not an unknown domain
		{"d1.cloudfront.net", 0},          // noise: dropped
		{"printer.local", 0},              // private
		{"nas", 0},                        // single label
		{"192.168.1.10", 0},               // IP
		{"4.3.2.1.in-addr.arpa", 0},       // reverse zone
		{"router.home.arpa", 0},           // private
		{"git.corp", 0},                   // private
		{"wiki.acme-corp.example.com", 0}, // the company's own domain
		{"acmeinc.net", 0},                // the company's own domain
		{"notacmeinc.net", 0},             // not under it: counted
	}
	for _, n := range names {
		a.Observe(n.name, SourceDNS, "ann", t0.Add(n.at))
	}
	st := a.Stats()
	if st.Matched != 1 || st.Noise != 1 || st.Unmatched != 13 || st.UnknownCounted != 5 || st.UnknownPrivate != 8 || st.UnknownOverflow != 0 {
		t.Errorf("stats %+v", st)
	}
	if a.Len() != 5 { // one sighting, four unknown domains
		t.Errorf("Len = %d, want 5", a.Len())
	}
	sightings, unknown := a.FlushAll()
	if len(sightings) != 1 || sightings[0].App != "slack" {
		t.Errorf("sightings %+v", sightings)
	}
	want := []api.UnknownDomain{
		{Domain: "bbc.co.uk", Day: "2026-11-25", Count: 1},
		{Domain: "notacmeinc.net", Day: "2026-11-25", Count: 1},
		{Domain: "tinyshop.com", Day: "2026-11-25", Count: 2},
		{Domain: "tinyshop.com", Day: "2026-11-26", Count: 1},
	}
	if fmt.Sprint(unknown) != fmt.Sprint(want) {
		t.Errorf("unknown domains\n got  %+v\n want %+v", unknown, want)
	}
	if a.Len() != 0 || a.FlushUnknownDomains() != nil {
		t.Error("flush did not empty the unknown domains")
	}
	// What the aggregator sends, the collector accepts.
	b := api.SightingsBatch{BatchID: "b", AgentVersion: "1", UnknownDomains: unknown}
	if err := api.ValidateBatch(b, t0.Add(time.Hour)); err != nil {
		t.Errorf("collector would refuse the batch: %v", err)
	}
}

// TestUnknownDomainsCapPerDay: the cap is on distinct domains per UTC
// day, and holds across flushes.
func TestUnknownDomainsCapPerDay(t *testing.T) {
	a := New(catalog(t), WithUnknownDomains(UnknownDomainOptions{MaxPerDay: 3}))
	day1 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	for i := range 5 {
		a.Observe(fmt.Sprintf("www.shop%d.com", i), SourceDNS, "", day1)
	}
	if got := a.FlushUnknownDomains(); len(got) != 3 {
		t.Fatalf("first flush %+v, want 3 domains", got)
	}
	a.Observe("www.shop0.com", SourceDNS, "", day1) // already counted today: fine
	a.Observe("www.shop9.com", SourceDNS, "", day1) // a fourth domain today: overflow
	a.Observe("www.shop9.com", SourceDNS, "", day2) // a new day
	got := a.FlushUnknownDomains()
	want := []api.UnknownDomain{{Domain: "shop0.com", Day: "2026-11-25", Count: 1}, {Domain: "shop9.com", Day: "2026-11-26", Count: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second flush %+v, want %+v", got, want)
	}
	if st := a.Stats(); st.UnknownOverflow != 3 || st.UnknownCounted != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestUnknownDomainIsCopied: the name may alias a capture buffer.
func TestUnknownDomainIsCopied(t *testing.T) {
	a := New(catalog(t), WithUnknownDomains(UnknownDomainOptions{}))
	buf := []byte("www.tinyshop.com")
	a.Observe(unsafe.String(&buf[0], len(buf)), SourceDNS, "ann", time.Now())
	copy(buf, "www.xxxxxxxx.com")
	a.Observe("www.tinyshop.com", SourceDNS, "ann", time.Now())
	got := a.FlushUnknownDomains()
	if len(got) != 1 || got[0].Domain != "tinyshop.com" || got[0].Count != 2 {
		t.Fatalf("%+v", got)
	}
}

func TestUnknownDomainsReductionCacheBounded(t *testing.T) {
	a := New(catalog(t), WithUnknownDomains(UnknownDomainOptions{MaxPerDay: 1 << 20}))
	now := time.Now()
	for i := range reductionCacheSize * 3 {
		a.Observe(fmt.Sprintf("h%d.tinyshop.com", i), SourceDNS, "", now)
	}
	if n := len(a.unknown.reduced); n > reductionCacheSize {
		t.Errorf("reduction cache holds %d names, cap %d", n, reductionCacheSize)
	}
	if got := a.FlushUnknownDomains(); len(got) != 1 || got[0].Count != reductionCacheSize*3 {
		t.Errorf("%+v", got)
	}
}

func TestObserveUnknownDoesNotAllocate(t *testing.T) {
	a := New(catalog(t), WithUnknownDomains(UnknownDomainOptions{OwnDomains: []string{"acme.com"}}))
	now := time.Now()
	names := []string{"acme.slack.com", "www.tinyshop.com", "printer.local", "wiki.acme.com", "d1.cloudfront.net"}
	for _, n := range names {
		a.Observe(n, SourceDNS, "ann", now) // first sight: the aggregate and the reduction are made
	}
	for _, n := range names {
		if allocs := testing.AllocsPerRun(1000, func() { a.Observe(n, SourceDNS, "ann", now) }); allocs != 0 {
			t.Errorf("Observe(%q) allocates %.1f times", n, allocs)
		}
	}
}

func BenchmarkObserveUnknownDomains(b *testing.B) {
	a := New(catalog(b), WithUnknownDomains(UnknownDomainOptions{OwnDomains: []string{"example.com"}}))
	names := []string{"acme.slack.com", "www.google.com", "d3ag4hukkh62yn.cloudfront.net", "www.notion.so", "intranet.example.com",
		"github.com", "fonts.gstatic.com", "chatgpt.com", "www.nytimes.com", "acme.zendesk.com", "www.tinyshop.com", "printer.local"}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Observe(names[i%len(names)], SourceDNS, "ann", now)
	}
}
