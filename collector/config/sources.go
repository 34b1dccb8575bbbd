package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Sources configures the importers. Each importer runs when its section
// is filled in: on a schedule inside `serve`, and once with `shadowmap
// import SOURCE`. Credentials are given inline or, better, as files
// (0600), like enroll secrets.
type Sources struct {
	// Interval is how often `serve` runs every configured importer.
	Interval time.Duration `yaml:"interval"`
	Google   Google        `yaml:"google"`
	Okta     Okta          `yaml:"okta"`
	Entra    Entra         `yaml:"entra"`
	DNSZone  DNSZone       `yaml:"dns_zone"`
}

// Google configures the Google Workspace importer: a service account with
// domain-wide delegation of the read-only Admin SDK scopes, acting as an
// admin.
type Google struct {
	// CredentialsFile is the service account's JSON key.
	CredentialsFile string `yaml:"credentials_file"`
	// AdminEmail is the admin the service account acts as.
	AdminEmail string `yaml:"admin_email"`
	// Customer is the Workspace customer id; "my_customer" by default.
	Customer string `yaml:"customer"`
	// Backfill is how far back the first run reads (at most 180 days,
	// what the Reports API keeps).
	Backfill time.Duration `yaml:"backfill"`
	// Endpoint replaces https://admin.googleapis.com/ (tests, proxies).
	Endpoint string `yaml:"endpoint"`
}

// Enabled reports whether the Google importer is configured.
func (g Google) Enabled() bool { return g.CredentialsFile != "" }

// Okta configures the Okta importer: an API token of a read-only admin.
type Okta struct {
	// URL is the Okta org, https://acme.okta.com.
	URL       string `yaml:"url"`
	Token     Secret `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Backfill is how far back the first run reads the System Log (Okta
	// keeps 90 days).
	Backfill time.Duration `yaml:"backfill"`
}

// Enabled reports whether the Okta importer is configured.
func (o Okta) Enabled() bool { return o.URL != "" }

// Entra configures the Microsoft Entra ID importer: an app registration
// with the Graph application permissions AuditLog.Read.All,
// Application.Read.All and Directory.Read.All, and a client secret.
// Synchronization.Read.All, optional, shows which apps Entra provisions
// accounts into.
type Entra struct {
	TenantID         string `yaml:"tenant_id"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     Secret `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Backfill is how far back the first run reads sign-ins (Entra keeps
	// 30 days).
	Backfill time.Duration `yaml:"backfill"`
	// GraphURL and LoginURL replace https://graph.microsoft.com and
	// https://login.microsoftonline.com: national clouds, and tests.
	GraphURL string `yaml:"graph_url"`
	LoginURL string `yaml:"login_url"`
}

// Enabled reports whether the Entra importer is configured.
func (e Entra) Enabled() bool { return e.TenantID != "" }

// DNSZone configures the domain-verification TXT importer.
type DNSZone struct {
	// Domains are the company's own domains, whose TXT records show
	// which SaaS vendors it verified them with.
	Domains []string `yaml:"domains"`
	// Resolver is the DNS server asked, host:port; the system's when
	// empty.
	Resolver string `yaml:"resolver"`
}

// Enabled reports whether the TXT importer is configured.
func (d DNSZone) Enabled() bool { return len(d.Domains) > 0 }

// Default import settings.
const (
	DefaultImportInterval = 15 * time.Minute
	DefaultGoogleBackfill = 180 * 24 * time.Hour
	DefaultOktaBackfill   = 90 * 24 * time.Hour
	DefaultEntraBackfill  = 30 * 24 * time.Hour
)

func defaultSources() Sources {
	return Sources{
		Interval: DefaultImportInterval,
		Google:   Google{Customer: "my_customer", Backfill: DefaultGoogleBackfill},
		Okta:     Okta{Backfill: DefaultOktaBackfill},
		Entra:    Entra{Backfill: DefaultEntraBackfill},
	}
}

// validateSources adds the problems of the sources section.
func (c Config) validateSources(bad func(format string, args ...any)) {
	s := c.Sources
	if s.Interval < time.Minute {
		bad("sources.interval %s%s: at least 1m", s.Interval, c.from("sources.interval"))
	}
	if g := s.Google; g.Enabled() {
		if !strings.Contains(g.AdminEmail, "@") {
			bad("sources.google.admin_email %q%s: the service account acts as an admin: give one's email", g.AdminEmail, c.from("sources.google.admin_email"))
		}
		if g.Backfill <= 0 || g.Backfill > DefaultGoogleBackfill {
			bad("sources.google.backfill %s: between 1s and 180 days (4320h), what the Reports API keeps", g.Backfill)
		}
		if g.Endpoint != "" {
			checkHTTPURL(bad, "sources.google.endpoint", g.Endpoint)
		}
	}
	if o := s.Okta; o.Enabled() {
		checkHTTPURL(bad, "sources.okta.url", o.URL)
		if o.Token == "" {
			bad("sources.okta: token or token_file is required with url")
		}
		if o.Backfill <= 0 {
			bad("sources.okta.backfill %s: must be positive", o.Backfill)
		}
	}
	if e := s.Entra; e.Enabled() {
		if e.ClientID == "" || e.ClientSecret == "" {
			bad("sources.entra: client_id and client_secret (or client_secret_file) are required with tenant_id")
		}
		if e.Backfill <= 0 {
			bad("sources.entra.backfill %s: must be positive", e.Backfill)
		}
		for key, u := range map[string]string{"sources.entra.graph_url": e.GraphURL, "sources.entra.login_url": e.LoginURL} {
			if u != "" {
				checkHTTPURL(bad, key, u)
			}
		}
	}
	for _, d := range s.DNSZone.Domains {
		if d = strings.TrimSpace(d); d == "" || strings.ContainsAny(d, " /:@") || !strings.Contains(d, ".") {
			bad("sources.dns_zone.domains: %q is not a domain name", d)
		}
	}
}

func checkHTTPURL(bad func(format string, args ...any), key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("%s %q: want an http(s) URL with a host", key, raw)
		return
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		bad("%s %q: credentials would cross the network in clear: use https", key, raw)
	}
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

// sourceSecretFiles lists the importers' secrets given as files, for
// readSecretFiles.
func (c *Config) sourceSecretFiles() []struct {
	label, file, fileKey, valueKey string
	value                          *Secret
} {
	return []struct {
		label, file, fileKey, valueKey string
		value                          *Secret
	}{
		{"sources.okta", c.Sources.Okta.TokenFile, "token_file", "token", &c.Sources.Okta.Token},
		{"sources.entra", c.Sources.Entra.ClientSecretFile, "client_secret_file", "client_secret", &c.Sources.Entra.ClientSecret},
	}
}

// String names the configured importers, for the start-up log.
func (s Sources) String() string {
	var on []string
	if s.Google.Enabled() {
		on = append(on, "google")
	}
	if s.Okta.Enabled() {
		on = append(on, "okta")
	}
	if s.Entra.Enabled() {
		on = append(on, "entra")
	}
	if s.DNSZone.Enabled() {
		on = append(on, "dns_zone")
	}
	if len(on) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s every %s", strings.Join(on, ", "), s.Interval)
}
