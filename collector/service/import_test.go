package service

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// serveTXT answers TXT questions for acme.example from a small zone on a
// loopback port, over UDP and TCP, and returns its address.
func serveTXT(t *testing.T) string {
	t.Helper()
	zone := map[string][]string{
		"acme.example.": {"slack-domain-verification=Q2FsbCBtZSBhIHRva2Vu", "v=spf1 include:_spf.google.com ~all"},
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		txts, ok := zone[dns.CanonicalName(q.Name)]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeTXT:
			for _, txt := range txts {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{txt}})
			}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// TestImportCommand runs `shadowmap import dnszone` as IT would, with a
// configuration file, against a real DNS server, and finds its evidence
// and run in the database; a second run adds nothing.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shadowmap.db")
	cfgFile := filepath.Join(dir, "shadowmap.yaml")
	cfg := "database: " + db + "\nsources:\n  dns_zone:\n    domains: [acme.example]\n    resolver: " + serveTXT(t) + "\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for run, want := range []string{"dnszone: 2 events read, 1 new evidence rows", "dnszone: 2 events read, 0 new evidence rows"} {
		var stdout, stderr strings.Builder
		cmd := ImportCommand(&stdout, &stderr, nil)
		if err := cmd.Run([]string{"--config", cfgFile, "dnszone"}); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run %d printed %q, want %q", run, stdout.String(), want)
		}
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.ListEvidence(ctx, collector.EvidenceFilter{Source: collector.SourceDNSTXT})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].AppID != "slack" || ev[0].Domain != "acme.example" {
		t.Fatalf("dns_txt evidence: %+v", ev)
	}
	health, err := st.SourceHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 1 || health[0].Source != "dnszone" || health[0].Runs != 2 || health[0].LastError != "" || health[0].TotalImported != 1 {
		t.Fatalf("source health: %+v", health)
	}
}

func TestImportCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, "name one source"},
		{[]string{"salesforce"}, "unknown source"},
		{[]string{"okta"}, "not configured"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		err := ImportCommand(&stdout, &stderr, []string{"SHADOWMAP_DATABASE=" + filepath.Join(t.TempDir(), "db")}).Run(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("import %v: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
