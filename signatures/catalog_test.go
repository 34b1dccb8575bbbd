package signatures

import (
	"strings"
	"testing"
)

// These tests hold the embedded catalog, the one that ships, to what the
// agent and collector rely on.

func TestEmbeddedCatalogLintsClean(t *testing.T) {
	for _, p := range Lint(EmbeddedFS()) {
		t.Error(p)
	}
}

func TestEmbeddedCoverage(t *testing.T) {
	c := embeddedCatalog(t)
	var identity, mail, tenants int
	for _, a := range c.Apps {
		if a.Identity != nil {
			identity++
		}
		if a.Mail != nil {
			mail++
		}
		if len(a.Tenants) > 0 {
			tenants++
		}
	}
	for _, tt := range []struct {
		what      string
		got, want int
	}{
		{"apps", len(c.Apps), 400},
		{"apps with identity facts", identity, 150},
		{"apps with mail matchers", mail, 100},
		{"apps with tenant patterns", tenants, 40},
		{"noise entries", len(c.Noise), 150},
	} {
		if tt.got < tt.want {
			t.Errorf("%s = %d, want at least %d", tt.what, tt.got, tt.want)
		}
	}
}

// TestSeedApps checks the apps whose identity facts the project committed
// to (the seed list): present, with the SCIM and SSO facts as researched.
func TestSeedApps(t *testing.T) {
	c := embeddedCatalog(t)
	tests := []struct {
		id, scim, sso, jit string
		priceHas           string
	}{
		{id: "lusha", scim: "no", sso: "yes", jit: "no", priceHas: "Premium"},
		{id: "activecampaign", scim: "no", sso: "yes", jit: "yes", priceHas: "Enterprise"},
		{id: "clay", scim: "no", sso: "yes", jit: "yes", priceHas: "30000"},
		{id: "leapsome", scim: "yes", sso: "yes", priceHas: "Enterprise"},
		{id: "6sense", scim: "paused", sso: "yes", jit: "yes", priceHas: "55000"},
		{id: "brevo", scim: "no", sso: "yes", priceHas: "10000"},
		{id: "adyen", scim: "idp-only", sso: "yes"},
		{id: "amplitude", scim: "yes", sso: "yes", priceHas: "Growth"},
		{id: "bugsnag", scim: "yes", sso: "yes", priceHas: "475"},
		{id: "greenhouse", scim: "yes", sso: "yes", priceHas: "6000"},
		{id: "slack", scim: "yes", sso: "yes", priceHas: "$15"},
		{id: "notion", scim: "yes", sso: "yes", priceHas: "$24"},
		{id: "airtable", scim: "yes", sso: "yes", priceHas: "$45"},
	}
	for _, tt := range tests {
		a := c.App(tt.id)
		if a == nil {
			t.Errorf("seed app %s is missing", tt.id)
			continue
		}
		id := a.Identity
		if id == nil {
			t.Errorf("seed app %s has no identity facts", tt.id)
			continue
		}
		if id.SCIM.Supported != tt.scim || id.SSO.Supported != tt.sso || (tt.jit != "" && id.JIT != tt.jit) {
			t.Errorf("%s: scim %q sso %q jit %q; want scim %q sso %q jit %q", tt.id, id.SCIM.Supported, id.SSO.Supported, id.JIT, tt.scim, tt.sso, tt.jit)
		}
		if !strings.Contains(id.PriceNotes, tt.priceHas) {
			t.Errorf("%s: price notes %q do not mention %q", tt.id, id.PriceNotes, tt.priceHas)
		}
		if len(id.Sources) == 0 || id.Checked == "" {
			t.Errorf("%s: identity facts without sources or date", tt.id)
		}
	}
}

// TestMidMarketApps checks the catalog has the apps a mid-market company
// really has, across the categories the issue names.
func TestMidMarketApps(t *testing.T) {
	c := embeddedCatalog(t)
	for _, id := range strings.Fields(`
		slack zoom microsoft-teams google-workspace microsoft-365 notion confluence-is-atlassian
		github gitlab postman figma canva miro
		lusha clay apollo-io activecampaign brevo 6sense hubspot salesforce zoominfo
		bamboohr workday greenhouse lever rippling deel gusto
		quickbooks-online xero brex ramp expensify stripe
		zendesk intercom freshdesk
		mixpanel amplitude
		dropbox box wetransfer
		evernote coda
		chatgpt claude gemini perplexity cursor github-copilot midjourney`) {
		if id == "confluence-is-atlassian" {
			id = "atlassian"
		}
		if c.App(id) == nil {
			t.Errorf("app %s is missing", id)
		}
	}
}

// TestEmbeddedMatches checks real names against the shipped catalog:
// tenant subdomains, noise, roles.
func TestEmbeddedMatches(t *testing.T) {
	c := embeddedCatalog(t)
	tests := []struct {
		name, app, tenant string
		noise             bool
		use               bool
	}{
		{name: "acme.slack.com", app: "slack", tenant: "acme", use: true},
		{name: "acme.atlassian.net", app: "atlassian", tenant: "acme", use: true},
		{name: "acme.zendesk.com", app: "zendesk", tenant: "acme", use: true},
		{name: "acme.my.salesforce.com", app: "salesforce", tenant: "acme", use: true},
		{name: "acme.okta.com", app: "okta", tenant: "acme", use: true},
		{name: "acme-admin.okta.com", app: "okta", tenant: "acme", use: true},
		{name: "acme.freshdesk.com", app: "freshdesk", tenant: "acme", use: true},
		{name: "acme.bamboohr.com", app: "bamboohr", tenant: "acme", use: true},
		{name: "acme.sharepoint.com", app: "sharepoint", tenant: "acme", use: true},
		{name: "acme.egnyte.com", app: "egnyte", tenant: "acme", use: true},
		{name: "docs.google.com", app: "google-workspace", use: true},
		{name: "gemini.google.com", app: "gemini", use: true},
		{name: "chatgpt.com", app: "chatgpt", use: true},
		{name: "claude.ai", app: "claude", use: true},
		{name: "www.perplexity.ai", app: "perplexity", use: true},
		{name: "slack-edge.com", app: "slack"},
		{name: "www.google.com", noise: true},
		{name: "d3ag4hukkh62yn.cloudfront.net", noise: true},
		{name: "o450.ingest.sentry.io", noise: true},
		{name: "swscan.apple.com", noise: true},
		{name: "ctldl.windowsupdate.com", noise: true},
		{name: "www.example.org"},
	}
	for _, tt := range tests {
		m := c.MatchDomain(tt.name)
		got := ""
		if m.App != nil {
			got = m.App.ID
		}
		if got != tt.app || m.Tenant != tt.tenant || (m.Noise != nil) != tt.noise || m.CountsAsUse() != tt.use {
			t.Errorf("MatchDomain(%q) = app %q tenant %q noise %v use %v; want app %q tenant %q noise %v use %v",
				tt.name, got, m.Tenant, m.Noise != nil, m.CountsAsUse(), tt.app, tt.tenant, tt.noise, tt.use)
		}
	}
}

// TestEmbeddedReceipts checks the receipts named in the reference data:
// Stripe-hosted receipts from the vendor's own domain, and Paddle.
func TestEmbeddedReceipts(t *testing.T) {
	c := embeddedCatalog(t)
	tests := []struct {
		h         MailHeader
		app       string
		processor string
	}{
		{MailHeader{From: "Anthropic, PBC <invoice+statements@mail.anthropic.com>", Subject: "Your receipt from Anthropic, PBC #2314-6653-0971"}, "anthropic-api", "stripe"},
		{MailHeader{From: "invoice+statements@vercel.com", Subject: "Your receipt from Vercel Inc. #2561-3340"}, "vercel", "stripe"},
		{MailHeader{From: "invoice+statements@lovable.dev", Subject: "Your receipt from Lovable Labs Incorporated"}, "lovable", "stripe"},
		{MailHeader{From: "no_reply@am.atlassian.com", Subject: "Your Atlassian invoice"}, "atlassian", ""},
		{MailHeader{From: "invoice@travelperk.com", Subject: "Invoice 2026-1101"}, "travelperk", ""},
	}
	for _, tt := range tests {
		m := c.MatchMailSender(tt.h)
		got := ""
		if m.App != nil {
			got = m.App.ID
		}
		if got != tt.app || m.Processor != tt.processor {
			t.Errorf("MatchMailSender(%+v) = app %q processor %q (by %s); want %q %q", tt.h, got, m.Processor, m.By, tt.app, tt.processor)
		}
	}
}

// TestGoogleRestrictedScopes checks every Google restricted scope is in the
// risk table as high.
func TestGoogleRestrictedScopes(t *testing.T) {
	c := embeddedCatalog(t)
	for _, s := range strings.Fields(`
		https://mail.google.com/
		gmail.readonly gmail.metadata gmail.modify gmail.insert gmail.compose
		gmail.settings.basic gmail.settings.sharing
		drive drive.readonly drive.activity drive.activity.readonly drive.metadata
		drive.metadata.readonly drive.scripts`) {
		r := c.ScopeRisk("google", s)
		if r == nil {
			t.Errorf("restricted scope %s is not in the risk table", s)
			continue
		}
		if r.Level != "high" && !strings.HasPrefix(s, "drive.activity") && !strings.HasPrefix(s, "drive.metadata") && s != "gmail.metadata" {
			t.Errorf("restricted scope %s is %s, want high", s, r.Level)
		}
	}
	for _, s := range []string{"Mail.Read", "Mail.ReadWrite", "Files.Read.All", "Files.ReadWrite.All", "Directory.ReadWrite.All", "Calendars.ReadWrite"} {
		if c.ScopeRisk("microsoft", s) == nil {
			t.Errorf("Graph permission %s is not in the risk table", s)
		}
	}
}
