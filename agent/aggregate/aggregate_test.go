package aggregate

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/shadowmap/shadowmap/signatures"
)

func catalog(t testing.TB) *signatures.Catalog {
	t.Helper()
	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestObserveAndFlush(t *testing.T) {
	a := New(catalog(t))
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	names := []struct {
		name string
		src  Source
		at   time.Duration
	}{
		{"acme.slack.com", SourceDNS, 0},
		{"ACME.slack.com.", SourceDNS, time.Hour},
		{"acme.slack.com", SourceSNI, 2 * time.Hour},
		{"slack-edge.com", SourceDNS, 0},       // static: dropped
		{"d1.cloudfront.net", SourceDNS, 0},    // noise: dropped
		{"intranet.example.com", SourceDNS, 0}, // unknown: dropped
		{"www.notion.so", SourceDNS, 0},
		{"acme.slack.com", SourceDNS, 20 * time.Hour}, // next UTC day
	}
	for _, n := range names {
		a.Observe(n.name, n.src, "ann", t0.Add(n.at))
	}
	st := a.Stats()
	if st.Names != 8 || st.Matched != 5 || st.NotUse != 1 || st.Noise != 1 || st.Unmatched != 1 {
		t.Errorf("stats %+v", st)
	}
	got := a.Flush()
	want := []string{
		"2026-11-25 notion notion.so  ann dns 1",
		"2026-11-25 slack slack.com acme ann dns 2",
		"2026-11-25 slack slack.com acme ann sni 1",
		"2026-11-26 slack slack.com acme ann dns 1",
	}
	if len(got) != len(want) {
		t.Fatalf("flush = %+v", got)
	}
	for i, s := range got {
		line := fmt.Sprintf("%s %s %s %s %s %s %d", s.Day, s.App, s.Domain, s.Tenant, s.User, s.Source, s.Count)
		if line != want[i] {
			t.Errorf("sighting %d = %q, want %q", i, line, want[i])
		}
	}
	if !got[1].FirstSeen.Equal(t0) || !got[1].LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("first/last = %v %v", got[1].FirstSeen, got[1].LastSeen)
	}
	if a.Len() != 0 || len(a.Flush()) != 0 {
		t.Error("flush did not empty the aggregator")
	}
}

// TestTenantIsCopied: a capture loop may hand over names that alias its
// packet buffer; the aggregate must not change when the buffer is reused.
func TestTenantIsCopied(t *testing.T) {
	a := New(catalog(t))
	buf := []byte("acme.slack.com")
	name := unsafe.String(&buf[0], len(buf))
	a.Observe(name, SourceDNS, "ann", time.Now())
	copy(buf, "xxxx.slack.com")
	s := a.Flush()
	if len(s) != 1 || s[0].Tenant != "acme" {
		t.Fatalf("%+v", s)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	a := New(catalog(t))
	now := time.Now()
	a.Observe("acme.slack.com", SourceDNS, "ann", now)
	for _, n := range []string{"acme.slack.com", "www.example.org", "d1.cloudfront.net"} {
		if allocs := testing.AllocsPerRun(1000, func() { a.Observe(n, SourceDNS, "ann", now) }); allocs != 0 {
			t.Errorf("Observe(%q) allocates %.1f times", n, allocs)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	a := New(catalog(b))
	names := []string{"acme.slack.com", "www.google.com", "d3ag4hukkh62yn.cloudfront.net", "www.notion.so", "intranet.example.com",
		"github.com", "fonts.gstatic.com", "chatgpt.com", "www.nytimes.com", "acme.zendesk.com"}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Observe(names[i%len(names)], SourceDNS, "ann", now)
	}
}
