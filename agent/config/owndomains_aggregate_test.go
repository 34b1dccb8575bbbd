package config_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/agent/config"
	"github.com/shadowmap/shadowmap/signatures"
)

// TestOwnDomainsNeverCounted feeds own domains through Load, as a person
// writes them, to the aggregator the agent builds from them, and checks
// that neither they nor any name under them is ever counted as an unknown
// domain: names arrive from the wire in punycode and any case, so what
// the config normalizes must match what the aggregator compares.
func TestOwnDomainsNeverCounted(t *testing.T) {
	s, err := config.Load(config.Options{
		DefaultConfigPath: filepath.Join(t.TempDir(), "absent.yaml"),
		Getenv: func(k string) string {
			return map[string]string{
				"SHADOWMAP_AGENT_COLLECTOR": "https://c.example.com", "SHADOWMAP_AGENT_ENROLL_SECRET": "x",
				"SHADOWMAP_AGENT_OWN_DOMAINS": "Acme-Corp.com., bücher.de, corp.acme-group.net, acme.co.uk",
			}[k]
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	agg := aggregate.New(c, aggregate.WithUnknownDomains(aggregate.UnknownDomainOptions{OwnDomains: s.OwnDomains.Value}))

	day := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		counted string // the registrable domain counted, "" for none
	}{
		{"acme-corp.com", ""},
		{"mail.acme-corp.com", ""},
		{"A.B.MAIL.ACME-CORP.COM.", ""},
		{"xn--bcher-kva.de", ""},
		{"shop.XN--BCHER-KVA.de", ""},
		{"corp.acme-group.net", ""},
		{"wiki.corp.acme-group.net", ""},
		{"vpn.acme.co.uk", ""},
		// Not under an own domain: counted.
		{"notacme-corp.com", "notacme-corp.com"},
		{"acme-corp.com.evil.io", "evil.io"},
		{"www.acme-group.net", "acme-group.net"}, // only corp. under it is listed
		{"xn--bcher-kva.at", "xn--bcher-kva.at"},
	}
	var want []string
	for _, tt := range tests {
		agg.Observe(tt.name, aggregate.SourceDNS, "ann", day)
		if tt.counted != "" {
			want = append(want, tt.counted)
		}
	}
	var got []string
	for _, u := range agg.FlushUnknownDomains() {
		got = append(got, u.Domain)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("unknown domains counted %q, want %q", got, want)
	}
	if st := agg.Stats(); st.UnknownPrivate != 8 {
		t.Errorf("%d names dropped as own, want 8 (stats %+v)", st.UnknownPrivate, st)
	}
}
