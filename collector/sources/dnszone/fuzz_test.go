package dnszone

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/shadowmap/shadowmap/signatures"
)

// FuzzAnswer feeds arbitrary bytes as a resolver's answer: they are
// unpacked, their TXT records read and matched into evidence, which must
// stay short, printable and keyed. Seeds live in testdata/fuzz/FuzzAnswer.
func FuzzAnswer(f *testing.F) {
	cat, err := signatures.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	for name, recs := range acmeZone() {
		for _, txt := range recs {
			f.Add(answerBytes(f, name+".", txt))
		}
	}
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0})
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m dns.Msg
		if err := m.Unpack(data); err != nil {
			return
		}
		for _, rec := range txtStrings(&m) {
			checkEvidence(t, cat, rec, now)
		}
	})
}

// FuzzRecord matches arbitrary TXT record text, found at the apex and at
// the DKIM host.
func FuzzRecord(f *testing.F) {
	cat, err := signatures.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	f.Add("slack-domain-verification=HkT3xYz9AbCdEfGhIjKl")
	f.Add("v=spf1 include:mail.zendesk.com include:_spf.salesforce.com ~all")
	f.Add("MS=ms\x00\xff" + strings.Repeat("x", 400))
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, rec string) {
		checkEvidence(t, cat, rec, now)
	})
}

func checkEvidence(t *testing.T, cat *signatures.Catalog, rec string, now time.Time) {
	t.Helper()
	for _, host := range []string{"", "google._domainkey"} {
		keys := make(map[string]bool)
		for _, e := range evidenceFor(cat, "acme.example", host, rec, now) {
			if !utf8.ValidString(e.Detail) || len(e.Detail) > 2*maxDetail+len("…") {
				t.Fatalf("detail %q: not valid UTF-8 or too long (%d)", e.Detail, len(e.Detail))
			}
			for _, r := range e.Detail {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in detail %q", e.Detail)
				}
			}
			if e.AppID == "" || keys[e.DedupeKey] || !strings.HasPrefix(e.DedupeKey, "dnszone:acme.example:"+e.AppID+":") {
				t.Fatalf("bad or repeated dedupe key %q for app %q", e.DedupeKey, e.AppID)
			}
			keys[e.DedupeKey] = true
		}
	}
}

// answerBytes packs a resolver answer with one TXT record.
func answerBytes(tb testing.TB, name string, txt []string) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.Response = true
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: txt}}
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
