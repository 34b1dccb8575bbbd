package signatures

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestMatchTXT(t *testing.T) {
	c := loadFixture(t)
	tests := []struct {
		host, record string
		apps         []string // app ids, in order
		end          int      // End of the first match
	}{
		{record: "chatterbox-domain-verification=AbC123", apps: []string{"chat"}, end: 31},
		{record: "CHATTERBOX-Domain-Verification=AbC123", apps: []string{"chat"}, end: 31},
		{record: "  chatterbox-domain-verification=x  ", apps: []string{"chat"}, end: 33},
		{record: "cb_verify_123", apps: []string{"chat"}, end: 10},
		{record: "pipeline-verification=z", apps: []string{"crm"}, end: 22},
		{record: "00PABCDEFGHIJKL=token", apps: []string{"crm"}, end: 16},
		{record: "00pABCDEFGHIJKL=token"}, // the pattern is case-sensitive
		{record: "00PABC=token"},
		// One SPF record naming two vendors matches both, in catalog order.
		{record: "v=spf1 include:_spf.pipeline.example include:mail.chatterbox.example ~all", apps: []string{"chat", "crm"}, end: 68},
		{record: "V=SPF1 include:_SPF.pipeline.example -all", apps: []string{"crm"}, end: 36},
		{record: "v=spf1 include:mail.chatterbox.example.evil ~all", apps: []string{"chat"}, end: 38}, // \b ends at the dot
		{record: "v=spf1 include:mail-chatterbox.example ~all"},
		{record: "v=spf1 ip4:192.0.2.1 -all"},
		{record: "search-site-verification=q", apps: []string{"suite"}, end: 25},
		// DKIM keys count only at their host.
		{record: "v=DKIM1; k=rsa; p=MIGf"},
		{host: "search._domainkey", record: "v=DKIM1; k=rsa; p=MIGf", apps: []string{"suite"}, end: 8},
		{host: "SEARCH._domainkey.", record: "v=dkim1; p=x", apps: []string{"suite"}, end: 8},
		{host: "other._domainkey", record: "v=DKIM1; k=rsa; p=MIGf"},
		{host: "search._domainkey", record: "chatterbox-domain-verification=x"},
		// Near misses and junk.
		{record: "chatterbox-domain-verification"},
		{record: "xchatterbox-domain-verification=1"},
		{record: ""},
		{record: "\xff\xfe\x00"},
		{record: "chatterbox-domain-verificatioñ=1"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.record, func(t *testing.T) {
			var got []string
			ms := c.MatchTXTAt(tt.host, tt.record)
			for _, m := range ms {
				got = append(got, m.App.ID)
				if m.Rule == nil || m.End <= 0 || m.End > len(tt.record) {
					t.Errorf("match %s: rule %v end %d", m.App.ID, m.Rule, m.End)
				}
			}
			if !reflect.DeepEqual(got, tt.apps) {
				t.Fatalf("MatchTXTAt(%q, %q) = %v, want %v", tt.host, tt.record, got, tt.apps)
			}
			if len(ms) > 0 && ms[0].End != tt.end {
				t.Errorf("End = %d, want %d", ms[0].End, tt.end)
			}
			if tt.host == "" {
				if again := c.MatchTXT(tt.record); !reflect.DeepEqual(again, ms) {
					t.Errorf("MatchTXT and MatchTXTAt(\"\") differ: %v vs %v", again, ms)
				}
			}
		})
	}
	if got, want := c.TXTHosts(), []string{"search._domainkey"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TXTHosts() = %v, want %v", got, want)
	}
}

// TestEmbeddedTXT checks the real catalog's verification prefixes: each
// vendor's documented record maps to its app.
func TestEmbeddedTXT(t *testing.T) {
	c, err := Load(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"slack-domain-verification=Hk3x":       "slack",
		"atlassian-domain-verification=abc":    "atlassian",
		"google-site-verification=abc":         "google-workspace",
		"MS=ms12345678":                        "microsoft-365",
		"ZOOM_verify_abcdef":                   "zoom",
		"docusign=0a1b2c3d":                    "docusign",
		"v=spf1 include:mail.zendesk.com ~all": "zendesk",
		"v=spf1 ip4:192.0.2.1 -all":            "",
	}
	for record, want := range tests {
		var got string
		if ms := c.MatchTXT(record); len(ms) > 0 {
			got = ms[0].App.ID
		}
		if got != want {
			t.Errorf("MatchTXT(%q) = %q, want %q", record, got, want)
		}
	}
	for _, h := range c.TXTHosts() {
		if strings.ContainsAny(h, "<> ") {
			t.Errorf("host %q is not a DNS name", h)
		}
	}
}
