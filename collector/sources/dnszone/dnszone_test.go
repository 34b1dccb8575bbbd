package dnszone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// zone is what the test's authoritative-and-recursive server answers:
// TXT records per name (each record a list of strings, as on the wire).
// Names not in it are NXDOMAIN, except under a domain listed in empty,
// which answer NOERROR with no records.
type zone map[string][][]string

// testServer is a real DNS server on 127.0.0.1, UDP and TCP on one port.
type testServer struct {
	addr string
	zone zone
	// truncateUDP lists names whose UDP answers come truncated and
	// empty, as a server does when the records do not fit.
	truncateUDP map[string]bool
	// servfail makes the first servfail[name] queries for name fail.
	servfail map[string]int
	// refuse and silent name queries refused, or never answered.
	refuse map[string]bool

	mu       sync.Mutex
	queries  map[string]int // "udp name" / "tcp name" -> count
	tcpCount atomic.Int64
}

func startServer(t *testing.T, s *testServer) *testServer {
	t.Helper()
	s.queries = make(map[string]int)
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// UDP and TCP need the same port; a port free for UDP may be taken
	// for TCP, so try a few.
	for range 20 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("no port free for both UDP and TCP: %v", err)
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe() //nolint:errcheck // ends with Shutdown
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return s
}

func (s *testServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	proto := "tcp"
	if udp {
		proto = "udp"
	} else {
		s.tcpCount.Add(1)
	}
	s.mu.Lock()
	s.queries[proto+" "+name]++
	n := s.queries["udp "+name] + s.queries["tcp "+name]
	s.mu.Unlock()
	switch {
	case s.refuse[name]:
		m.Rcode = dns.RcodeRefused
	case n <= s.servfail[name]:
		m.Rcode = dns.RcodeServerFailure
	case udp && s.truncateUDP[name]:
		m.Truncated = true
	default:
		recs, ok := s.zone[name]
		if !ok && !s.exists(name) {
			m.Rcode = dns.RcodeNameError
			break
		}
		for _, txt := range recs {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300},
				Txt: txt,
			})
		}
	}
	w.WriteMsg(m)
}

// exists reports whether name is a zone name or has one under it (an
// empty non-terminal answers NOERROR, as in real DNS).
func (s *testServer) exists(name string) bool {
	for n := range s.zone {
		if n == name || strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return false
}

func (s *testServer) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

// acmeZone is the test company's zone: several vendors, a record split
// into strings, SPF records (one naming two vendors, one naming none), a
// DKIM key on a subdomain, and records no app claims.
func acmeZone() zone {
	return zone{
		"acme.example": {
			{"slack-domain-verification=HkT3xYz9AbCdEfGhIjKl"},
			// One record longer than a string: the wire splits it.
			{"atlassian-domain-verification=", "Zx9abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"},
			{"google-site-verification=rXOxyZounnZasA8Z7oaD3c14JdjS9aKSWvsR1EbUSIQ"},
			{"MS=ms12345678"},
			{"v=spf1 include:_spf.google.com include:mail.zendesk.com include:_spf.salesforce.com ~all"},
			{"some-unknown-vendor-verification=abc123"},
			{"v=spf1 ip4:192.0.2.0/24 -all"},
		},
		"google._domainkey.acme.example": {
			{"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"},
		},
		"other.example": {
			{"v=spf1 -all"},
		},
	}
}

type fixture struct {
	store *sqlite.Store
	cat   *signatures.Catalog
	now   time.Time
	slept []time.Duration
	mu    sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, cat: cat, now: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)}
}

func (f *fixture) env() *sources.Env {
	return &sources.Env{Stores: f.store, Catalog: f.cat, Progress: sources.NewProgress(func() time.Time { return f.now }), Now: func() time.Time { return f.now }}
}

// options retry with a fake sleep that records its waits.
func (f *fixture) options() Options {
	return Options{
		Timeout: 2 * time.Second,
		Retry: sources.Retry{Attempts: 3, Base: time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.slept = append(f.slept, d)
			return ctx.Err()
		}},
	}
}

func (f *fixture) evidence(t *testing.T) []collector.Evidence {
	t.Helper()
	ev, err := f.store.ListEvidence(context.Background(), collector.EvidenceFilter{Source: collector.SourceDNSTXT})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(ev, func(i, j int) bool { return ev[i].DedupeKey < ev[j].DedupeKey })
	return ev
}

func TestImportZone(t *testing.T) {
	srv := startServer(t, &testServer{zone: acmeZone(), truncateUDP: map[string]bool{"acme.example": true}})
	f := newFixture(t)
	im, err := New(config.DNSZone{Domains: []string{"ACME.example.", "typo.example"}, Resolver: srv.addr}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	env := f.env()
	err = im.Import(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "typo.example") || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("Import error = %v, want NXDOMAIN for typo.example", err)
	}
	if strings.Contains(err.Error(), "acme.example") {
		t.Errorf("the good domain is in the error: %v", err)
	}
	if srv.count("tcp acme.example") == 0 {
		t.Error("the truncated UDP answer was not re-asked over TCP")
	}

	ev := f.evidence(t)
	got := make(map[string][]string) // app -> details
	for _, e := range ev {
		got[e.AppID] = append(got[e.AppID], e.Detail)
		if e.Source != collector.SourceDNSTXT || e.Person != "" || e.Day != "2026-11-25" || e.Domain != "acme.example" || e.Count != 1 {
			t.Errorf("evidence fields: %+v", e)
		}
		if !strings.HasPrefix(e.DedupeKey, "dnszone:acme.example:"+e.AppID+":") || len(e.DedupeKey) != len("dnszone:acme.example:"+e.AppID+":")+16 {
			t.Errorf("dedupe key %q", e.DedupeKey)
		}
	}
	var apps []string
	for a := range got {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	want := []string{"atlassian", "google-workspace", "microsoft-365", "salesforce", "slack", "zendesk"}
	if strings.Join(apps, " ") != strings.Join(want, " ") {
		t.Fatalf("apps = %v, want %v", apps, want)
	}
	if n := len(got["google-workspace"]); n != 2 {
		t.Errorf("google-workspace: %d rows (want the site verification and the DKIM key): %q", n, got["google-workspace"])
	}
	for _, d := range got["atlassian"] {
		// The split record was joined, and its token cut.
		if !strings.HasPrefix(d, "TXT acme.example: atlassian-domain-verification=Zx9abc…") {
			t.Errorf("atlassian detail %q", d)
		}
	}
	for _, d := range got["slack"] {
		if strings.Contains(d, "HkT3xYz9AbCdEf") {
			t.Errorf("detail keeps the whole token: %q", d)
		}
	}
	dkim := false
	for _, d := range got["google-workspace"] {
		dkim = dkim || strings.HasPrefix(d, "TXT google._domainkey.acme.example: v=DKIM1")
	}
	if !dkim {
		t.Errorf("no DKIM evidence from the subdomain: %q", got["google-workspace"])
	}
	snap := env.Progress.Snapshot()
	if snap.Events != 8 || snap.Imported != int64(len(ev)) {
		t.Errorf("progress events %d imported %d, want 8 and %d", snap.Events, snap.Imported, len(ev))
	}

	// A second run, even on a later day, adds nothing while the records
	// stay.
	f.now = f.now.Add(24 * time.Hour)
	env = f.env()
	im2, err := New(config.DNSZone{Domains: []string{"acme.example"}, Resolver: srv.addr}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := im2.Import(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if n := env.Progress.Snapshot().Imported; n != 0 {
		t.Errorf("rerun imported %d rows, want 0", n)
	}
	if again := f.evidence(t); len(again) != len(ev) {
		t.Errorf("rerun: %d rows, want %d", len(again), len(ev))
	}
}

// TestRunnerRecordsHealth runs the importer the way serve does, so a
// failed domain shows in source health.
func TestRunnerRecordsHealth(t *testing.T) {
	srv := startServer(t, &testServer{zone: acmeZone()})
	f := newFixture(t)
	im, err := New(config.DNSZone{Domains: []string{"acme.example", "typo.example"}, Resolver: srv.addr}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	r := sources.Runner{Stores: f.store, Runs: f.store, Catalog: f.cat, Now: func() time.Time { return f.now }}
	run, err := r.Run(context.Background(), im, nil)
	if err == nil || run.Source != Name || !strings.Contains(run.Error, "typo.example") || run.Imported == 0 {
		t.Fatalf("run %+v, err %v", run, err)
	}
}

func TestResolverAnswers(t *testing.T) {
	tests := []struct {
		name     string
		srv      *testServer
		wantErr  string // "" for success
		wantApps int
		slept    int
	}{
		{name: "servfail then answer", srv: &testServer{zone: acmeZone(), servfail: map[string]int{"acme.example": 2}}, wantApps: 6, slept: 2},
		{name: "servfail every time", srv: &testServer{zone: acmeZone(), servfail: map[string]int{"acme.example": 99}}, wantErr: "SERVFAIL", slept: 2},
		{name: "refused", srv: &testServer{zone: acmeZone(), refuse: map[string]bool{"acme.example": true}}, wantErr: "refused"},
		{name: "subdomain servfail fails the domain", srv: &testServer{zone: acmeZone(), servfail: map[string]int{"google._domainkey.acme.example": 99}}, wantErr: "google._domainkey.acme.example", slept: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.srv)
			f := newFixture(t)
			im, err := New(config.DNSZone{Domains: []string{"acme.example"}, Resolver: srv.addr}, f.options())
			if err != nil {
				t.Fatal(err)
			}
			err = im.Import(context.Background(), f.env())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Import error = %v, want %q", err, tt.wantErr)
			}
			apps := make(map[string]bool)
			for _, e := range f.evidence(t) {
				apps[e.AppID] = true
			}
			if len(apps) != tt.wantApps {
				t.Errorf("%d apps, want %d", len(apps), tt.wantApps)
			}
			if len(f.slept) != tt.slept {
				t.Errorf("slept %v, want %d waits", f.slept, tt.slept)
			}
			for i := 1; i < len(f.slept); i++ {
				if f.slept[i] <= f.slept[i-1] {
					t.Errorf("backoff does not grow: %v", f.slept)
				}
			}
		})
	}
}

// TestSilentResolver points the importer at a socket that reads queries
// and never answers: the exchange times out, is retried, and the error
// says so.
func TestSilentResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	f := newFixture(t)
	opts := f.options()
	opts.Timeout = 50 * time.Millisecond
	opts.Retry.Attempts = 2
	im, err := New(config.DNSZone{Domains: []string{"acme.example"}, Resolver: pc.LocalAddr().String()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = im.Import(context.Background(), f.env())
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("Import error = %v, want a timeout after 2 attempts", err)
	}
}

func TestCancelled(t *testing.T) {
	srv := startServer(t, &testServer{zone: acmeZone()})
	f := newFixture(t)
	im, err := New(config.DNSZone{Domains: []string{"acme.example"}, Resolver: srv.addr}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := im.Import(ctx, f.env()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Import error = %v, want context.Canceled", err)
	}
	if ev := f.evidence(t); len(ev) != 0 {
		t.Errorf("cancelled run stored %d rows", len(ev))
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "resolv.conf")
	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(good, []byte("nameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     config.DNSZone
		conf    string
		servers string
		err     string
	}{
		{name: "resolver with port", cfg: config.DNSZone{Domains: []string{"acme.example"}, Resolver: "127.0.0.1:5353"}, servers: "127.0.0.1:5353"},
		{name: "resolver without port", cfg: config.DNSZone{Domains: []string{"acme.example"}, Resolver: "192.0.2.1"}, servers: "192.0.2.1:53"},
		{name: "ipv6 resolver", cfg: config.DNSZone{Domains: []string{"acme.example"}, Resolver: "2001:db8::1"}, servers: "[2001:db8::1]:53"},
		{name: "system resolver", cfg: config.DNSZone{Domains: []string{"acme.example"}}, conf: good, servers: "192.0.2.53:53 [2001:db8::53]:53"},
		{name: "no resolv.conf", cfg: config.DNSZone{Domains: []string{"acme.example"}}, conf: filepath.Join(dir, "missing"), err: "set sources.dns_zone.resolver"},
		{name: "resolv.conf without nameserver", cfg: config.DNSZone{Domains: []string{"acme.example"}}, conf: empty, err: "names no nameserver"},
		{name: "no domains", cfg: config.DNSZone{Resolver: "127.0.0.1"}, err: "no domains"},
		{name: "bad domain", cfg: config.DNSZone{Domains: []string{"acme"}, Resolver: "127.0.0.1"}, err: `"acme" is not a domain name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := New(tt.cfg, Options{ResolvConf: tt.conf})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("New error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(im.servers, " "); got != tt.servers {
				t.Errorf("servers = %q, want %q", got, tt.servers)
			}
			if im.Name() != "dnszone" {
				t.Errorf("Name() = %q", im.Name())
			}
		})
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		record string
		end    int
		want   string
	}{
		{"slack-domain-verification=HkT3xYz9AbCd", 26, "slack-domain-verification=HkT3xY…"},
		{"MS=ms1234", 5, "MS=ms1234"},
		{"MS=ms12345678", 5, "MS=ms123456…"},
		{"ctl=\x00\x01\xffabc", 4, "ctl=???abc"},
		{strings.Repeat("a", 300), 290, strings.Repeat("a", maxDetail) + "…"},
	}
	for _, tt := range tests {
		if got := shorten(tt.record, tt.end); got != tt.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tt.record, tt.end, got, tt.want)
		}
	}
}

func ExampleNew() {
	im, err := New(config.DNSZone{Domains: []string{"acme.example"}, Resolver: "192.0.2.53"}, Options{})
	fmt.Println(im.Name(), err)
	// Output: dnszone <nil>
}
