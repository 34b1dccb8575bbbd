package signatures

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The matchers take bytes from packets, grant logs and mail headers: none
// of it trusted. These targets prove they never panic and keep their
// invariants. Seeds live in testdata/fuzz/<target>.

func FuzzMatchDomain(f *testing.F) {
	c := loadFixture(f)
	f.Add("acme.chatterbox.example.")
	f.Add("bücher-chat.example")
	f.Add(strings.Repeat("a.", 300) + "chatterbox.example")
	f.Fuzz(func(t *testing.T, name string) {
		m := c.MatchDomain(name)
		if m.App != nil && m.Noise != nil {
			t.Fatalf("%q matched both app %s and noise %s", name, m.App.ID, m.Noise.Domain)
		}
		if (m.App != nil || m.Noise != nil) && m.Domain == "" {
			t.Fatalf("%q matched without a domain", name)
		}
		if m.App == nil && (m.Role != "" || m.Tenant != "") {
			t.Fatalf("%q: role %q tenant %q without an app", name, m.Role, m.Tenant)
		}
		for i := 0; i < len(m.Tenant); i++ {
			if c := m.Tenant[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("%q: tenant %q is not a lowercase label", name, m.Tenant)
			}
		}
		if isASCII(name) {
			// Matching ignores ASCII case.
			if u := c.MatchDomain(strings.ToUpper(name)); u != m {
				t.Fatalf("%q and its upper case match differently: %+v vs %+v", name, m, u)
			}
		}
	})
}

func FuzzMatchMailSender(f *testing.F) {
	c := loadFixture(f)
	f.Add("Chatter Box <invoice+statements@chatterbox.example>", "", "Your receipt from Chatter Box, Inc. #1234-5678")
	f.Add("help@paddle.com", "ErrorTrack via Paddle", "Your ErrorTrack receipt")
	f.Add("\"unterminated <a@b", "\xff", "Your  receipt from  #")
	f.Fuzz(func(t *testing.T, from, display, subject string) {
		m := c.MatchMailSender(MailHeader{From: from, DisplayName: display, Subject: subject})
		if m.App != nil && m.By == "" {
			t.Fatalf("app %s matched without saying how", m.App.ID)
		}
		if m.NeedsBody && m.App != nil {
			t.Fatal("NeedsBody set although the vendor was found")
		}
		if m.Kind != "" && !m.Kind.valid() {
			t.Fatalf("invalid kind %q", m.Kind)
		}
	})
}

func FuzzMatchOAuthClient(f *testing.F) {
	c := loadFixture(f)
	f.Add("123456789012-abcdef.apps.googleusercontent.com", "")
	f.Add("", "Chatter Box for Workspace")
	f.Fuzz(func(t *testing.T, id, name string) {
		m := c.MatchOAuthClient(id, name)
		if (m.App == nil) != (m.By == "") {
			t.Fatalf("app %v by %q", m.App, m.By)
		}
	})
}

// FuzzLintApp feeds arbitrary bytes to the catalog reader as an app file:
// contributors' files are outside input too.
func FuzzLintApp(f *testing.F) {
	noise := []byte("noise:\n  - domain: cdn.example\n    kind: cdn\n")
	scopes := []byte("scopes:\n  - provider: google\n    scope: openid\n    level: low\n    reason: Identifies the user.\n")
	f.Add([]byte("id: x\nname: X\nvendor: X\ncategory: ai\nwebsite: https://x.example\ndomains:\n  - name: x.example\n    role: app\n"))
	f.Add([]byte("id: x\ntenants:\n  - suffix: x.example\n    role: app\n    example: acme.x.example\n"))
	f.Add([]byte("- [unbalanced\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"apps/x.yaml": {Data: data},
			"noise.yaml":  {Data: noise},
			"scopes.yaml": {Data: scopes},
		}
		c, problems := load(fsys)
		if len(problems) == 0 {
			// What lints clean must match its own domains.
			for _, a := range c.Apps {
				for _, d := range a.Domains {
					if m := c.MatchDomain(d.Name); m.App != a && m.Noise == nil {
						t.Fatalf("domain %s of a clean catalog does not match its app", d.Name)
					}
				}
			}
		}
		for _, p := range problems {
			if p.File == "" || p.Msg == "" {
				t.Fatalf("problem without file or message: %+v", p)
			}
		}
	})
}

// FuzzMatchTXT feeds TXT records from outside zones to the matcher.
func FuzzMatchTXT(f *testing.F) {
	c := loadFixture(f)
	f.Add("", "chatterbox-domain-verification=AbC123")
	f.Add("search._domainkey", "v=DKIM1; k=rsa; p=MIGf")
	f.Add("", "v=spf1 include:_spf.pipeline.example include:mail.chatterbox.example ~all")
	f.Fuzz(func(t *testing.T, host, record string) {
		seen := make(map[*App]bool)
		for _, m := range c.MatchTXTAt(host, record) {
			if m.App == nil || m.Rule == nil {
				t.Fatalf("match without app or rule: %+v", m)
			}
			if m.End < 0 || m.End > len(record) {
				t.Fatalf("End %d outside the record (%d bytes)", m.End, len(record))
			}
			if seen[m.App] {
				t.Fatalf("app %s matched twice", m.App.ID)
			}
			seen[m.App] = true
		}
	})
}
