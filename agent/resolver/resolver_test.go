package resolver

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a real DNS server on loopback that answers A queries with
// 192.0.2.1.
func upstream(t testing.TB) string {
	t.Helper()
	s, err := startFakeDNS(t, "127.0.0.1:0", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return s.udp.PacketConn.LocalAddr().String()
}

// deadUpstream is a loopback address nothing answers on.
func deadUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestForwardsAndObserves(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	f, err := Start(Options{Listen: "127.0.0.1:0", Upstreams: []string{deadUpstream(t), upstream(t)}, Timeout: 300 * time.Millisecond},
		func(name string, _ time.Time) { mu.Lock(); seen = append(seen, name); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("ACME.Slack.com.", dns.TypeA)
		c := &dns.Client{Net: network, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(m, f.Addr())
		if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
			t.Fatalf("%s: %v %v", network, resp, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "acme.slack.com" {
		t.Errorf("observed %v", seen)
	}
	if fw, failed := f.Stats(); fw != 2 || failed != 0 {
		t.Errorf("stats %d forwarded %d failed", fw, failed)
	}
	if !f.Healthy(time.Minute) {
		t.Error("not healthy after answers")
	}
}

// TestFailsFast: with every upstream gone the forwarder answers SERVFAIL
// at once (the system resolver moves on) and reports itself unhealthy.
func TestFailsFast(t *testing.T) {
	f, err := Start(Options{Listen: "127.0.0.1:0", Upstreams: []string{deadUpstream(t)}, Timeout: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	resp, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, f.Addr())
	if err != nil || resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("%v %v, want SERVFAIL", resp, err)
	}
	if _, failed := f.Stats(); failed != 1 {
		t.Errorf("failed = %d", failed)
	}
	if f.Healthy(time.Nanosecond) {
		t.Error("healthy although no upstream answers")
	}
}

func TestNeedsUpstreams(t *testing.T) {
	if _, err := Start(Options{Listen: "127.0.0.1:0"}, nil); err == nil {
		t.Fatal("started without upstreams")
	}
}

// BenchmarkForward measures one UDP query through the forwarder to a
// loopback upstream and back.
func BenchmarkForward(b *testing.B) {
	up := upstream(b)
	f, err := Start(Options{Listen: "127.0.0.1:0", Upstreams: []string{up}}, func(string, time.Time) {})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Shutdown(context.Background())
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion("acme.slack.com.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Exchange(m, f.Addr()); err != nil {
			b.Fatal(err)
		}
	}
}
