package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/internal/loopback"
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
	Mail     Mail          `yaml:"mail"`
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
	// TokenSweepInterval is how often the importer lists every user's
	// current tokens through the Directory API: one call per user, so
	// far less often than the Reports API rounds, whose token events
	// already catch new grants and revocations in between.
	TokenSweepInterval time.Duration `yaml:"token_sweep_interval"`
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

// Mail configures the mail importer: finance, accounts-payable or IT
// mailboxes whose invoices, receipts and sign-up mail show what the
// company pays for and which accounts exist.
type Mail struct {
	Mailboxes []Mailbox `yaml:"mailboxes"`
	// MaxMessageBytes caps a message body the importer fetches; larger
	// ones are skipped and counted.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
}

// Enabled reports whether the mail importer is configured.
func (m Mail) Enabled() bool { return len(m.Mailboxes) > 0 }

// Mailbox is one IMAP account.
type Mailbox struct {
	// Name names the mailbox in evidence and health ("ap-inbox");
	// letters, digits, '-', '_', '.'.
	Name string `yaml:"name"`
	Host string `yaml:"host"`
	// Port defaults to 993 (implicit TLS) or 143 (starttls, none).
	Port int `yaml:"port"`
	// TLS is implicit (IMAPS, the default), starttls, or none (loopback
	// only: a password never crosses a network in clear).
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string `yaml:"ca_file"`
	// Auth is plain, login or xoauth2 (Gmail, Microsoft 365).
	Auth     string `yaml:"auth"`
	Username string `yaml:"username"`
	// Password (plain, login) or the OAuth access token (xoauth2), given
	// inline or, better, as a file (0600).
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Folders to scan; INBOX when empty.
	Folders []string `yaml:"folders"`
}

// Default import settings.
const (
	DefaultImportInterval = 15 * time.Minute
	DefaultGoogleBackfill = 180 * 24 * time.Hour
	// DefaultGoogleTokenSweepInterval keeps the per-user Directory token
	// sweep to four a day: at 5,000 people a sweep is 5,000 calls.
	DefaultGoogleTokenSweepInterval = 6 * time.Hour
	DefaultOktaBackfill             = 90 * 24 * time.Hour
	DefaultEntraBackfill            = 30 * 24 * time.Hour
	// DefaultMaxMessageBytes is the largest message the mail importer
	// fetches: invoices are tens of kilobytes; a 25 MB message is an
	// attachment nobody needs parsed.
	DefaultMaxMessageBytes = 10 << 20
)

func defaultSources() Sources {
	return Sources{
		Interval: DefaultImportInterval,
		Google:   Google{Customer: "my_customer", Backfill: DefaultGoogleBackfill, TokenSweepInterval: DefaultGoogleTokenSweepInterval},
		Okta:     Okta{Backfill: DefaultOktaBackfill},
		Entra:    Entra{Backfill: DefaultEntraBackfill},
		Mail:     Mail{MaxMessageBytes: DefaultMaxMessageBytes},
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
		if g.TokenSweepInterval <= 0 {
			bad("sources.google.token_sweep_interval %s: must be positive (6h by default); the token sweep cannot be turned off, since it is what notices grants the Reports API missed", g.TokenSweepInterval)
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
	names := map[string]bool{}
	for i, m := range s.Mail.Mailboxes {
		label := fmt.Sprintf("sources.mail.mailboxes[%d]", i)
		if m.Name == "" || strings.Trim(m.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			bad("%s.name %q: required; letters, digits, '-', '_', '.'", label, m.Name)
		} else if names[m.Name] {
			bad("%s.name %q: used twice", label, m.Name)
		}
		names[m.Name] = true
		if m.Host == "" || m.Username == "" {
			bad("%s: host and username are required", label)
		}
		switch m.TLS {
		case "implicit", "starttls":
		case "none":
			if !loopback.Host(m.Host) {
				bad("%s.tls none: only for a server on this machine; the password would cross the network in clear", label)
			}
		default:
			bad("%s.tls %q: implicit, starttls or none", label, m.TLS)
		}
		switch m.Auth {
		case "plain", "login", "xoauth2":
		default:
			bad("%s.auth %q: plain, login or xoauth2", label, m.Auth)
		}
		if m.Password == "" {
			bad("%s: password or password_file is required (the OAuth token for xoauth2)", label)
		}
		if m.Port < 0 || m.Port > 65535 {
			bad("%s.port %d: not a port", label, m.Port)
		}
	}
	if s.Mail.Enabled() && s.Mail.MaxMessageBytes < 64<<10 {
		bad("sources.mail.max_message_bytes %d: at least 65536", s.Mail.MaxMessageBytes)
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
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		bad("%s %q: credentials would cross the network in clear: use https", key, raw)
	}
}

// sourceSecretFiles lists the importers' secrets given as files, for
// readSecretFiles.
func (c *Config) sourceSecretFiles() []secretFile {
	out := []secretFile{
		{"sources.okta", c.Sources.Okta.TokenFile, &c.Sources.Okta.Token, "token_file", "token"},
		{"sources.entra", c.Sources.Entra.ClientSecretFile, &c.Sources.Entra.ClientSecret, "client_secret_file", "client_secret"},
	}
	for i := range c.Sources.Mail.Mailboxes {
		m := &c.Sources.Mail.Mailboxes[i]
		out = append(out, secretFile{fmt.Sprintf("sources.mail.mailboxes[%d]", i), m.PasswordFile, &m.Password, "password_file", "password"})
	}
	return out
}

// resolveSources fills the defaults that depend on other keys: a
// mailbox's TLS mode, authentication and port.
func (c *Config) resolveSources() {
	for i := range c.Sources.Mail.Mailboxes {
		m := &c.Sources.Mail.Mailboxes[i]
		m.TLS = strings.ToLower(strings.TrimSpace(m.TLS))
		m.Auth = strings.ToLower(strings.TrimSpace(m.Auth))
		if m.TLS == "" {
			m.TLS = "implicit"
		}
		if m.Auth == "" {
			m.Auth = "plain"
		}
		if m.Port == 0 {
			m.Port = 143
			if m.TLS == "implicit" {
				m.Port = 993
			}
		}
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
	if s.Mail.Enabled() {
		on = append(on, "mail")
	}
	if len(on) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s every %s", strings.Join(on, ", "), s.Interval)
}
