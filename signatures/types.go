package signatures

import "regexp"

// This file holds the catalog's domain types: what one app file says, what
// the noise list and the scope risk table hold. The YAML tags are the file
// format documented in docs/catalog.md; every field there is here.

// Role says what a domain means when it is seen. Only app, login and api
// count as use of the app; static never counts on its own and marketing is
// the vendor's public site (a visit, not use).
type Role string

// The domain roles a catalog file may use.
const (
	RoleApp       Role = "app"
	RoleLogin     Role = "login"
	RoleAPI       Role = "api"
	RoleStatic    Role = "static"
	RoleMarketing Role = "marketing"
)

// CountsAsUse reports whether a sighting with this role alone is evidence
// that someone uses the app. Static assets (CDNs, embedded widgets) are
// loaded by other sites too, and a marketing page is only a visit.
func (r Role) CountsAsUse() bool {
	return r == RoleApp || r == RoleLogin || r == RoleAPI
}

func (r Role) valid() bool {
	switch r {
	case RoleApp, RoleLogin, RoleAPI, RoleStatic, RoleMarketing:
		return true
	}
	return false
}

// Categories an app may be filed under. They are coarse on purpose: the web
// view groups by them and the digest counts them.
var categories = []string{
	"ai",
	"analytics",
	"automation",
	"collaboration",
	"communication",
	"crm",
	"customer-support",
	"data",
	"design",
	"dev-tools",
	"devops",
	"e-signature",
	"file-sharing",
	"finance",
	"forms-surveys",
	"hr",
	"identity-security",
	"it-management",
	"learning",
	"legal",
	"marketing",
	"meetings",
	"notes-docs",
	"observability",
	"payments",
	"project-management",
	"recruiting",
	"sales",
	"scheduling",
	"travel-expense",
	"website-cms",
}

// Categories returns the categories an app file may use, sorted.
func Categories() []string {
	return append([]string(nil), categories...)
}

// App is one SaaS application: one file in signatures/apps.
type App struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Vendor   string   `yaml:"vendor"`
	Category string   `yaml:"category"`
	Website  string   `yaml:"website"`
	Aliases  []string `yaml:"aliases,omitempty"`
	// Domains are the DNS names the app uses. A name matches a domain when
	// it equals it or is a subdomain of it, unless Exact is set.
	Domains []Domain `yaml:"domains"`
	// Tenants describe where a customer's own name appears in a hostname
	// (acme.slack.com). They are matched like domains but only when a
	// tenant label is present.
	Tenants  []Tenant  `yaml:"tenants,omitempty"`
	OAuth    *OAuth    `yaml:"oauth,omitempty"`
	Mail     *Mail     `yaml:"mail,omitempty"`
	Identity *Identity `yaml:"identity,omitempty"`
	Risk     *Risk     `yaml:"risk,omitempty"`
	// DNSTXT are the TXT records a customer publishes in its own zone to
	// verify a domain with the vendor (or to send mail through it): seen
	// in the company's zone, they show the company set the app up.
	DNSTXT []TXTRule `yaml:"dns_txt,omitempty"`
	Notes  string    `yaml:"notes,omitempty"`
	// Sources back the domains and mail facts; Identity has its own.
	Sources []Source `yaml:"sources,omitempty"`

	// file and line locate the app for lint messages.
	file string
	line int
}

// File returns the catalog file the app was loaded from.
func (a *App) File() string { return a.file }

// Domain is one DNS suffix owned by an app.
type Domain struct {
	Name  string `yaml:"name"`
	Role  Role   `yaml:"role"`
	Exact bool   `yaml:"exact,omitempty"`
	// Overlap explains why this domain sits under or over another app's
	// domain or a noise entry (docs.google.com under google.com). Lint
	// rejects a nesting without one.
	Overlap string `yaml:"overlap,omitempty"`

	line int
}

// Tenant is a tenant pattern: the label directly left of Suffix names the
// customer, as in acme.zendesk.com or acme.my.salesforce.com.
type Tenant struct {
	Suffix string `yaml:"suffix"`
	Role   Role   `yaml:"role"`
	// Exclude lists labels that sit where a tenant would but are the
	// vendor's own hosts (www, app, api, status...).
	Exclude []string `yaml:"exclude,omitempty"`
	// TrimSuffixes are removed from the tenant label, so that
	// acme-admin.okta.com names the tenant acme.
	TrimSuffixes []string `yaml:"trim_suffixes,omitempty"`
	Example      string   `yaml:"example"`
	Overlap      string   `yaml:"overlap,omitempty"`

	line int
}

// OAuth holds what identifies the app in OAuth grant logs.
type OAuth struct {
	GoogleClientIDs []string `yaml:"google_client_ids,omitempty"`
	// DisplayNames are the names the app registers with Google or
	// Microsoft, compared case- and space-insensitively.
	DisplayNames []string `yaml:"display_names,omitempty"`
	// MicrosoftAppIDs are Entra application (client) ids.
	MicrosoftAppIDs []string `yaml:"microsoft_app_ids,omitempty"`
}

// Mail holds the billing and sign-up mail matchers.
type Mail struct {
	// SenderDomains are domains whose mail is from the vendor; a sender
	// address under one (billing.acme.com under acme.com) matches.
	SenderDomains []string `yaml:"sender_domains,omitempty"`
	// SenderAddresses are exact addresses (billing@box.com).
	SenderAddresses []string `yaml:"sender_addresses,omitempty"`
	DisplayNames    []string `yaml:"display_names,omitempty"`
	// LegalNames are the names on receipts from payment processors
	// ("Your receipt from Anthropic, PBC #1234-5678").
	LegalNames []string `yaml:"legal_names,omitempty"`
	// Processors lists payment processors that bill for the vendor
	// (stripe, paddle, chargebee, recurly, zuora, fastspring, apple, google).
	Processors []string         `yaml:"processors,omitempty"`
	Subjects   []SubjectPattern `yaml:"subjects,omitempty"`

	line int
}

// MailKind says what a matched message proves.
type MailKind string

// The kinds of vendor mail the matchers tell apart.
const (
	MailInvoice   MailKind = "invoice"
	MailReceipt   MailKind = "receipt"
	MailSignup    MailKind = "signup"
	MailSecurity  MailKind = "security"
	MailMarketing MailKind = "marketing"
)

func (k MailKind) valid() bool {
	switch k {
	case MailInvoice, MailReceipt, MailSignup, MailSecurity, MailMarketing:
		return true
	}
	return false
}

// SubjectPattern is a regular expression (Go RE2 syntax, matched
// case-insensitively) over a subject line and the kind of mail it means.
type SubjectPattern struct {
	Pattern string   `yaml:"pattern"`
	Kind    MailKind `yaml:"kind"`

	line int
	re   *regexp.Regexp // compiled by lint, used by the mail matcher
}

// TXTRule is one kind of TXT record a vendor asks its customers to
// publish. Exactly one of Prefix and Pattern is set.
type TXTRule struct {
	// Prefix is how the record starts ("slack-domain-verification="),
	// compared without ASCII case.
	Prefix string `yaml:"prefix,omitempty"`
	// Pattern is a Go (RE2) regular expression for records whose token
	// has no fixed prefix or that name the vendor inside (an SPF
	// include). It may match anywhere in the record: anchor it with ^.
	// It is case-sensitive unless it starts with (?i).
	Pattern string `yaml:"pattern,omitempty"`
	// Host is where the record lives, relative to the company domain
	// ("google._domainkey"); empty for the domain itself.
	Host string `yaml:"host,omitempty"`
	// Note says what the record is for, for IT reading the evidence.
	Note string `yaml:"note,omitempty"`

	line int
	re   *regexp.Regexp // compiled by lint, used by MatchTXT
	ok   bool           // lint passed: the matchers use only these
}

// Identity holds what it takes to bring the app under the IdP.
type Identity struct {
	SSO  SSO  `yaml:"sso"`
	SCIM SCIM `yaml:"scim"`
	// JIT is just-in-time account creation on first SSO login:
	// yes, no, partial or unknown.
	JIT string `yaml:"jit"`
	// IdPs says per IdP what the integration does: okta, entra,
	// google_workspace, onelogin.
	IdPs       map[string]string `yaml:"idps,omitempty"`
	PriceNotes string            `yaml:"price_notes,omitempty"`
	Notes      string            `yaml:"notes,omitempty"`
	Sources    []Source          `yaml:"sources"`
	Checked    string            `yaml:"checked"`

	line int
}

// SSO is single sign-on support.
type SSO struct {
	// Supported is yes, no, partial or unknown.
	Supported string   `yaml:"supported"`
	Protocols []string `yaml:"protocols,omitempty"`
	// Tier is the plan that has SSO ("Business+", "Enterprise").
	Tier string `yaml:"tier,omitempty"`
}

// SCIM is automated provisioning support.
type SCIM struct {
	// Supported is yes, no, partial, paused, idp-only or unknown.
	Supported  string   `yaml:"supported"`
	Tier       string   `yaml:"tier,omitempty"`
	Operations []string `yaml:"operations,omitempty"`
	Notes      string   `yaml:"notes,omitempty"`
}

// Risk holds attributes that raise or lower concern about an app.
type Risk struct {
	// Data lists the kinds of company data the app typically holds.
	Data []string `yaml:"data,omitempty"`
	// Level is low, medium or high.
	Level string `yaml:"level,omitempty"`
	Notes string `yaml:"notes,omitempty"`
}

// Source is where a fact came from: a URL or a named dataset.
type Source struct {
	URL     string `yaml:"url,omitempty"`
	Dataset string `yaml:"dataset,omitempty"`
	Checked string `yaml:"checked,omitempty"`
	Note    string `yaml:"note,omitempty"`
}

// NoiseEntry is a domain that never becomes an app: CDNs, cloud
// infrastructure, ads, telemetry, OS and browser updates.
type NoiseEntry struct {
	Domain string `yaml:"domain"`
	Kind   string `yaml:"kind"`
	Exact  bool   `yaml:"exact,omitempty"`
	// Reason is required when the entry sits under an app's domain
	// (ingest.sentry.io under sentry.io): it says why it is noise.
	Reason string `yaml:"reason,omitempty"`

	file string
	line int
}

var noiseKinds = []string{"cdn", "cloud", "ads", "analytics", "telemetry", "os-update", "browser-update", "dns", "certificates", "captive-portal", "fonts", "platform"}

// ScopeRisk is one OAuth scope or Microsoft Graph permission and how much
// access it grants.
type ScopeRisk struct {
	Provider string `yaml:"provider"`
	Scope    string `yaml:"scope"`
	// Level is high, medium or low.
	Level  string `yaml:"level"`
	Reason string `yaml:"reason"`
	// Class is Google's classification (restricted, sensitive) or, for
	// Graph, delegated/application.
	Class string `yaml:"class,omitempty"`

	file string
	line int
}
