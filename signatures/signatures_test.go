package signatures

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/internal/golden"
)

func loadFixture(t testing.TB) *Catalog {
	t.Helper()
	c, err := Load(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatalf("load fixture catalog: %v", err)
	}
	return c
}

func TestLoadFixture(t *testing.T) {
	c := loadFixture(t)
	if got, want := len(c.Apps), 4; got != want {
		t.Errorf("apps = %d, want %d", got, want)
	}
	if got, want := len(c.Noise), 4; got != want {
		t.Errorf("noise = %d, want %d", got, want)
	}
	chat := c.App("chat")
	if chat == nil {
		t.Fatal("app chat missing")
	}
	if chat.File() != "apps/chat.yaml" {
		t.Errorf("File() = %q", chat.File())
	}
	// Unicode domains are stored in punycode.
	var found bool
	for _, d := range chat.Domains {
		if d.Name == "xn--bcher-chat-9db.example" {
			found = true
		}
	}
	if !found {
		t.Errorf("bücher-chat.example was not normalized to punycode: %+v", chat.Domains)
	}
	if chat.Identity == nil || chat.Identity.SCIM.Supported != "yes" || chat.Identity.SSO.Tier != "Business" {
		t.Errorf("identity facts not loaded: %+v", chat.Identity)
	}
}

func TestMatchDomain(t *testing.T) {
	c := loadFixture(t)
	tests := []struct {
		name       string
		app        string // "" for no app
		role       Role
		tenant     string
		domain     string
		noise      bool
		countsUses bool
	}{
		{name: "chatterbox.example", app: "chat", role: RoleApp, domain: "chatterbox.example", countsUses: true},
		{name: "web.chatterbox.example", app: "chat", role: RoleApp, tenant: "web", domain: "chatterbox.example", countsUses: true},
		{name: "acme.chatterbox.example", app: "chat", role: RoleApp, tenant: "acme", domain: "chatterbox.example", countsUses: true},
		{name: "deep.acme.chatterbox.example", app: "chat", role: RoleApp, tenant: "acme", domain: "chatterbox.example", countsUses: true},
		{name: "ACME.ChatterBox.Example.", app: "chat", role: RoleApp, tenant: "acme", domain: "chatterbox.example", countsUses: true},
		{name: "www.chatterbox.example", app: "chat", role: RoleApp, domain: "chatterbox.example", countsUses: true},
		{name: "FILES.chatterbox.example", app: "chat", role: RoleApp, domain: "chatterbox.example", countsUses: true},
		{name: "status.chatterbox.example", app: "chat", role: RoleMarketing, domain: "status.chatterbox.example"},
		{name: "x.status.chatterbox.example", app: "chat", role: RoleApp, domain: "chatterbox.example", countsUses: true},
		{name: "cb-static.example", app: "chat", role: RoleStatic, domain: "cb-static.example"},
		{name: "img.cb-static.example", app: "chat", role: RoleStatic, domain: "cb-static.example"},
		{name: "chatterbox.example.org", app: "chat", role: RoleMarketing, domain: "chatterbox.example.org"},
		{name: "bücher-chat.example", app: "chat", role: RoleApp, domain: "xn--bcher-chat-9db.example", countsUses: true},
		{name: "BÜCHER-chat.example", app: "chat", role: RoleApp, domain: "xn--bcher-chat-9db.example", countsUses: true},
		{name: "xn--bcher-chat-9db.example", app: "chat", role: RoleApp, domain: "xn--bcher-chat-9db.example", countsUses: true},
		{name: "eu.XN--BCHER-CHAT-9DB.example", app: "chat", role: RoleApp, domain: "xn--bcher-chat-9db.example", countsUses: true},
		// Tenant patterns only match with a tenant label.
		{name: "acme.my.pipeline.example", app: "crm", role: RoleApp, tenant: "acme", domain: "my.pipeline.example", countsUses: true},
		{name: "my.pipeline.example", app: "crm", role: RoleApp, domain: "pipeline.example", countsUses: true},
		{name: "login.pipeline.example", app: "crm", role: RoleLogin, domain: "login.pipeline.example", countsUses: true},
		{name: "acme-admin.idp.example", app: "crm", role: RoleLogin, tenant: "acme", domain: "idp.example", countsUses: true},
		{name: "acme.idp.example", app: "crm", role: RoleLogin, tenant: "acme", domain: "idp.example", countsUses: true},
		{name: "www.idp.example", domain: ""},
		{name: "idp.example", domain: ""},
		{name: "-admin.idp.example", domain: ""},
		// Noise: an exact entry wins only for itself; a longer noise
		// entry beats a shorter app domain; a longer app domain beats a
		// shorter noise entry.
		{name: "www.pipeline.example", noise: true, domain: "www.pipeline.example"},
		{name: "a.www.pipeline.example", app: "crm", role: RoleApp, domain: "pipeline.example", countsUses: true},
		{name: "o1.ingest.errortrack.example", noise: true, domain: "ingest.errortrack.example"},
		{name: "errortrack.example", app: "errors", role: RoleApp, domain: "errortrack.example", countsUses: true},
		{name: "docs.search.example", app: "suite", role: RoleApp, domain: "docs.search.example", countsUses: true},
		{name: "www.search.example", noise: true, domain: "search.example"},
		{name: "search.example", noise: true, domain: "search.example"},
		{name: "d1.cdn.example", noise: true, domain: "cdn.example"},
		// Near misses.
		{name: "notchatterbox.example"},
		{name: "chatterbox.example.com"},
		{name: "example"},
		{name: "."},
		{name: ""},
		{name: ".."},
		{name: "chatterbox..example"},
		{name: "\xff\xfe.chatterbox.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := c.MatchDomain(tt.name)
			gotApp := ""
			if m.App != nil {
				gotApp = m.App.ID
			}
			if gotApp != tt.app || m.Role != tt.role || m.Tenant != tt.tenant || m.Domain != tt.domain || (m.Noise != nil) != tt.noise {
				t.Errorf("MatchDomain(%q) = app %q role %q tenant %q domain %q noise %v; want app %q role %q tenant %q domain %q noise %v",
					tt.name, gotApp, m.Role, m.Tenant, m.Domain, m.Noise != nil, tt.app, tt.role, tt.tenant, tt.domain, tt.noise)
			}
			if m.CountsAsUse() != tt.countsUses {
				t.Errorf("CountsAsUse = %v, want %v", m.CountsAsUse(), tt.countsUses)
			}
		})
	}
}

func TestMatchDomainDoesNotAllocate(t *testing.T) {
	c := loadFixture(t)
	names := []string{"acme.chatterbox.example", "www.example.com", "o1.ingest.errortrack.example.", "Cb-Static.Example", "acme-admin.idp.example"}
	for _, n := range names {
		if allocs := testing.AllocsPerRun(100, func() { c.MatchDomain(n) }); allocs != 0 {
			t.Errorf("MatchDomain(%q) allocates %.0f times", n, allocs)
		}
	}
}

func TestMatchOAuthClient(t *testing.T) {
	c := loadFixture(t)
	tests := []struct {
		id, display string
		app, by     string
	}{
		{"123456789012-abcdef.apps.googleusercontent.com", "", "chat", "client_id"},
		{"123456789012-ABCDEF", "something else", "chat", "client_id"},
		{"", "Chatter Box for Workspace", "chat", "display_name"},
		{"", "  chatter-box   FOR workspace ", "chat", "display_name"},
		{"", "ChatterBox", "chat", "display_name"},
		{"", "Chatter Box", "chat", "display_name"},
		{"999-unknown.apps.googleusercontent.com", "Pipeline CRM", "crm", "display_name"},
		{"999-unknown.apps.googleusercontent.com", "Unknown Tool", "", ""},
		{"", "", "", ""},
		{"\xff", "\xfe\xff", "", ""},
	}
	for _, tt := range tests {
		m := c.MatchOAuthClient(tt.id, tt.display)
		got := ""
		if m.App != nil {
			got = m.App.ID
		}
		if got != tt.app || m.By != tt.by {
			t.Errorf("MatchOAuthClient(%q, %q) = %q by %q, want %q by %q", tt.id, tt.display, got, m.By, tt.app, tt.by)
		}
	}
}

func TestMatchMailSender(t *testing.T) {
	c := loadFixture(t)
	tests := []struct {
		name      string
		h         MailHeader
		app       string
		kind      MailKind
		processor string
		by        string
		needsBody bool
	}{
		{
			name: "vendor invoice from its own domain",
			h:    MailHeader{From: "Chatter Box <billing@chatterbox.example>", Subject: "Your Chatter Box invoice for November"},
			app:  "chat", kind: MailInvoice, by: "sender_domain",
		},
		{
			name: "vendor subdomain sender, sign-up",
			h:    MailHeader{From: "hello@mail.chatterbox.example", Subject: "Welcome to Chatter Box!"},
			app:  "chat", kind: MailSignup, by: "sender_domain",
		},
		{
			name: "Stripe-hosted receipt from the vendor's own domain",
			h:    MailHeader{From: `"ErrorTrack Software, LLC" <invoice+statements@errortrack.example>`, Subject: "Your receipt from ErrorTrack Software, LLC #2041-7731"},
			app:  "errors", kind: MailReceipt, processor: "stripe", by: "app_domain",
		},
		{
			name: "Stripe receipt from stripe.com names the merchant in the subject",
			h:    MailHeader{From: "invoice+statements+acct_1AbC@stripe.com", Subject: "Your receipt from Pipeline Corp #1234-5678"},
			app:  "crm", kind: MailReceipt, processor: "stripe", by: "legal_name",
		},
		{
			name: "legal name with another company form",
			h:    MailHeader{From: "receipts@stripe.com", Subject: "Receipt from Chatter Box Inc #99"},
			app:  "chat", kind: MailReceipt, processor: "stripe", by: "legal_name",
		},
		{
			name: "Paddle receipt: vendor in the subject",
			h:    MailHeader{From: "Paddle <help@paddle.com>", Subject: "Your ErrorTrack receipt"},
			app:  "errors", kind: MailReceipt, processor: "paddle", by: "legal_name",
		},
		{
			name: "Paddle invoice: vendor after 'from'",
			h:    MailHeader{From: "help@paddle.com", Subject: "Your invoice 123-45678 from ErrorTrack Software, LLC"},
			app:  "errors", kind: MailInvoice, processor: "paddle", by: "legal_name",
		},
		{
			name: "Paddle with a display name naming the vendor",
			h:    MailHeader{From: "ErrorTrack via Paddle <help@paddle.com>", Subject: "Your order"},
			app:  "errors", kind: MailReceipt, processor: "paddle", by: "display_name",
		},
		{
			name: "Paddle receipt that names no vendor in the headers",
			h:    MailHeader{From: "help@paddle.com", Subject: "Your Kino receipt"},
			kind: MailReceipt, processor: "paddle", needsBody: true,
		},
		{
			name: "exact billing address",
			h:    MailHeader{From: "billing@pipelinebilling.example", Subject: "Statement for October"},
			app:  "crm", by: "sender_address",
		},
		{
			name: "display name only is the weakest match",
			h:    MailHeader{From: "Chatter Box <noreply@elsewhere.example>", Subject: "Your sign-in code"},
			app:  "chat", kind: MailSecurity, by: "display_name",
		},
		{
			name: "display name given separately",
			h:    MailHeader{From: "noreply@elsewhere.example", DisplayName: "Chatter Box", Subject: "Verify your email"},
			app:  "chat", kind: MailSignup, by: "display_name",
		},
		{
			name: "a declared display name on mail that is not a vendor's",
			h:    MailHeader{From: "Chatter Box <chatter.box@gmail.example>", Subject: "lunch on Friday?"},
		},
		{
			name: "an app name is not a declared display name: people share app names",
			h:    MailHeader{From: "Pipeline CRM <someone@elsewhere.example>", Subject: "Your invoice"},
			kind: MailInvoice,
		},
		{
			name: "Stripe receipt naming an app by its alias",
			h:    MailHeader{From: "receipts@stripe.com", Subject: "Your receipt from ChatterBox #12"},
			app:  "chat", kind: MailReceipt, processor: "stripe", by: "legal_name",
		},
		{
			name: "unrelated mail",
			h:    MailHeader{From: "friend@example.net", Subject: "lunch?"},
		},
		{
			name: "garbage header",
			h:    MailHeader{From: "<<<@@@>>>\xff", Subject: "\xff\xfe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := c.MatchMailSender(tt.h)
			got := ""
			if m.App != nil {
				got = m.App.ID
			}
			if got != tt.app || m.Kind != tt.kind || m.Processor != tt.processor || m.By != tt.by || m.NeedsBody != tt.needsBody {
				t.Errorf("MatchMailSender(%+v) = app %q kind %q processor %q by %q needsBody %v; want app %q kind %q processor %q by %q needsBody %v",
					tt.h, got, m.Kind, m.Processor, m.By, m.NeedsBody, tt.app, tt.kind, tt.processor, tt.by, tt.needsBody)
			}
		})
	}
}

func TestScopeRisk(t *testing.T) {
	c := loadFixture(t)
	tests := []struct {
		provider, scope, level string
	}{
		{"google", "https://www.googleapis.com/auth/gmail.readonly", "high"},
		{"google", "gmail.readonly", "high"},
		{"google", "openid", "low"},
		{"microsoft", "mail.read", "high"},
		{"microsoft", "Files.Read.All", "high"}, // the riskier of delegated and application
		{"microsoft", "Calendars.Read", ""},
		{"google", "", ""},
	}
	for _, tt := range tests {
		got := ""
		if s := c.ScopeRisk(tt.provider, tt.scope); s != nil {
			got = s.Level
		}
		if got != tt.level {
			t.Errorf("ScopeRisk(%q, %q) = %q, want %q", tt.provider, tt.scope, got, tt.level)
		}
	}
}

// TestLint runs lint over each broken catalog in testdata/lint and compares
// its problems with the golden file beside it.
func TestLint(t *testing.T) {
	dirs, err := filepath.Glob("testdata/lint/*")
	if err != nil {
		t.Fatal(err)
	}
	var cases int
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		cases++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var b strings.Builder
			for _, p := range Lint(os.DirFS(dir)) {
				b.WriteString(p.String())
				b.WriteByte('\n')
			}
			got := b.String()
			if got == "" {
				t.Fatal("lint found no problems in a broken catalog")
			}
			golden.Check(t, dir+".golden", got)
		})
	}
	if cases == 0 {
		t.Fatal("no lint cases in testdata/lint")
	}
}

func TestLoadReportsProblems(t *testing.T) {
	_, err := Load(os.DirFS("testdata/lint/conflicts"))
	pe, ok := err.(ProblemsError)
	if !ok || len(pe) == 0 {
		t.Fatalf("Load of a broken catalog: err = %v, want ProblemsError", err)
	}
	if !strings.Contains(err.Error(), "more problems") {
		t.Errorf("error %q does not say there are more problems", err)
	}
}
