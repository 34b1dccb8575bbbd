// Package config is the collector's configuration: what `shadowmap serve`
// reads from built-in defaults, an optional YAML file, SHADOWMAP_*
// environment variables and command-line flags, in that order of
// precedence. No file at all is a working configuration: SQLite at
// ./data/shadowmap.db, listening on 127.0.0.1:8080.
//
// Load and Parse return a validated Config; its Warnings (loose file
// permissions, a typo in a SHADOWMAP_ variable) are for the caller to log.
// Secrets and tokens are Secret values, which never print themselves.
// docs/configuration.md documents every key, variable and flag.
package config

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
)

// Config is the collector's whole configuration. The yaml tags are the
// keys of the configuration file.
type Config struct {
	// Listen is the host:port the HTTP server binds.
	Listen string `yaml:"listen"`
	// DataDir holds the database and anything else the collector keeps.
	DataDir string `yaml:"data_dir"`
	// Database is the SQLite file; it defaults to shadowmap.db in DataDir.
	Database string `yaml:"database"`
	// TLS, when both files are set, makes the server speak HTTPS.
	TLS TLS `yaml:"tls"`
	// TrustedProxies are the CIDRs of the reverse proxies in front of the
	// server (proxies.go). A request from one of them is taken to come
	// from the address it puts in X-Forwarded-For; empty trusts none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Log chooses the log format and level.
	Log Log `yaml:"log"`
	// EnrollSecrets are the secrets agents enroll with; several may be
	// active at once so one can be rotated out while another is rolled in.
	EnrollSecrets []EnrollSecret `yaml:"enroll_secrets"`
	// AdminTokens authorise the JSON API for IT and scripts.
	AdminTokens []AdminToken `yaml:"admin_tokens"`
	// Ingest limits what agents may send.
	Ingest Ingest `yaml:"ingest"`
	// Retention says how long evidence and aggregates are kept.
	Retention Retention `yaml:"retention"`
	// UnknownDomainK is how many devices must see an unknown domain before
	// the collector shows it, so that no one person's browsing shows.
	UnknownDomainK int `yaml:"unknown_domain_k"`
	// EmailDomain turns an OS user name into an email address (jdoe ->
	// jdoe@example.com) for devices whose MDM gave no owner. Empty: such
	// devices stay without a person.
	EmailDomain string `yaml:"email_domain"`
	// ShutdownTimeout is how long in-flight requests get to finish on
	// SIGTERM before the server closes them.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Sources configures the importers (Google Workspace, Okta, Entra ID,
	// the company's DNS zone).
	Sources Sources `yaml:"sources"`
	// OIDC is the optional sign-in to the web view through the company's
	// identity provider (oidc.go).
	OIDC OIDC `yaml:"oidc"`
	// Digest is the weekly shadow-IT digest by email (digest.go).
	Digest Digest `yaml:"digest"`

	// File is the configuration file that was read, "" when none was.
	File string `yaml:"-"`
	// Warnings are problems that do not stop the server: secrets readable
	// by other users, unknown SHADOWMAP_ variables, plain HTTP on a
	// non-loopback address. The caller logs them.
	Warnings []string `yaml:"-"`

	// origin says where a key's value came from ("shadowmap.yaml:3",
	// "SHADOWMAP_LISTEN", "--listen"), for Validate's messages.
	origin map[string]string
}

// setOrigin records where the value of key came from.
func (c *Config) setOrigin(key, from string) {
	if c.origin == nil {
		c.origin = make(map[string]string)
	}
	c.origin[key] = from
}

// from returns " (from X)" when the origin of key is known, for messages.
func (c *Config) from(key string) string {
	if o, ok := c.origin[key]; ok {
		return " (from " + o + ")"
	}
	return ""
}

// TLS names the certificate and key files. Both or neither.
type TLS struct {
	// CertFile is a PEM certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the leaf.
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether the server should speak HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Log formats.
const (
	LogText = "text"
	LogJSON = "json"
)

// Log configures log/slog.
type Log struct {
	// Format is "text" or "json".
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error".
	Level string `yaml:"level"`
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// SlogLevel returns Level as a slog.Level; info when Level is unknown
// (Validate refuses that).
func (l Log) SlogLevel() slog.Level {
	if lv, ok := logLevels[strings.ToLower(l.Level)]; ok {
		return lv
	}
	return slog.LevelInfo
}

// Handler returns the slog handler the configuration asks for, writing
// to w.
func (l Log) Handler(w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if strings.EqualFold(l.Format, LogJSON) {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// EnrollSecret is one secret agents may enroll with. The name is what the
// collector records and logs ("enrolled with laptops-2025"); the secret
// itself never is.
type EnrollSecret struct {
	Name string `yaml:"name"`
	// Secret is the value, given inline or read from SecretFile at load.
	Secret Secret `yaml:"secret"`
	// SecretFile is a file holding the secret (surrounding whitespace and
	// the final newline are trimmed), so the secret need not sit in the
	// configuration file.
	SecretFile string `yaml:"secret_file"`
	// Revoked secrets are refused with 403: devices that already enrolled
	// keep their device tokens, new enrollments with it fail.
	Revoked bool `yaml:"revoked"`
}

// AdminToken is one bearer token for the admin JSON API.
type AdminToken struct {
	Name string `yaml:"name"`
	// Token is the value, given inline or read from TokenFile at load.
	Token Secret `yaml:"token"`
	// TokenFile is a file holding the token, trimmed like SecretFile.
	TokenFile string `yaml:"token_file"`
	// Revoked tokens are refused with 403.
	Revoked bool `yaml:"revoked"`
}

// Ingest limits agents' uploads.
type Ingest struct {
	// RateLimit is each device's sustained rate, in batches per second.
	RateLimit float64 `yaml:"rate_limit"`
	// Burst is how many batches a device may send at once above the rate
	// (an agent emptying its spool after a night offline).
	Burst int `yaml:"burst"`
	// MaxBodyBytes caps a sightings request body as it arrives
	// (compressed).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Retention is how long things are kept before the purge job deletes
// them.
type Retention struct {
	// Evidence is how long raw evidence rows are kept.
	Evidence Period `yaml:"evidence"`
	// Aggregates is how long the daily per-app aggregates are kept.
	Aggregates Period `yaml:"aggregates"`
	// PurgeInterval is how often the purge job runs.
	PurgeInterval time.Duration `yaml:"purge_interval"`
}

// The defaults, which Default returns and the documentation lists.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultDataDir         = "./data"
	DatabaseFileName       = "shadowmap.db"
	DefaultLogFormat       = LogText
	DefaultLogLevel        = "info"
	DefaultRateLimit       = 2.0
	DefaultBurst           = 10
	DefaultMaxBodyBytes    = api.MaxCompressedBytes
	DefaultPurgeInterval   = time.Hour
	DefaultUnknownDomainK  = 3
	DefaultShutdownTimeout = 15 * time.Second
)

// Default retention periods: raw evidence 90 days, aggregates 13 months
// (a year plus the month before it, for year-over-year comparisons).
var (
	DefaultEvidenceRetention  = Days(90)
	DefaultAggregateRetention = Months(13)
)

// Default returns the configuration used when nothing is configured.
func Default() Config {
	c := unresolvedDefault()
	c.resolve()
	return c
}

// unresolvedDefault is Default with the values derived from others (the
// database path) left empty, so that a file or variable that moves the
// data directory moves the database with it.
func unresolvedDefault() Config {
	return Config{
		Listen:  DefaultListen,
		DataDir: DefaultDataDir,
		Log:     Log{Format: DefaultLogFormat, Level: DefaultLogLevel},
		Ingest: Ingest{
			RateLimit:    DefaultRateLimit,
			Burst:        DefaultBurst,
			MaxBodyBytes: DefaultMaxBodyBytes,
		},
		Retention: Retention{
			Evidence:      DefaultEvidenceRetention,
			Aggregates:    DefaultAggregateRetention,
			PurgeInterval: DefaultPurgeInterval,
		},
		UnknownDomainK:  DefaultUnknownDomainK,
		ShutdownTimeout: DefaultShutdownTimeout,
		Sources:         defaultSources(),
		Digest:          defaultDigest(),
	}
}

// resolve fills the values derived from others and normalises case.
func (c *Config) resolve() {
	if c.Database == "" && c.DataDir != "" {
		c.Database = joinPath(c.DataDir, DatabaseFileName)
	}
	c.Log.Format = strings.ToLower(strings.TrimSpace(c.Log.Format))
	c.Log.Level = strings.ToLower(strings.TrimSpace(c.Log.Level))
	c.EmailDomain = strings.ToLower(strings.TrimSpace(c.EmailDomain))
	c.resolveSources()
}

// joinPath is filepath.Join without the cleaning, so that "./data" gives
// "./data/shadowmap.db" as the documentation says, not "data/shadowmap.db".
func joinPath(dir, name string) string {
	trimmed := strings.TrimRight(dir, `/\`)
	if trimmed == "" {
		return filepath.Join(dir, name)
	}
	return trimmed + string(filepath.Separator) + name
}

// Redacted returns a copy whose secrets and tokens are replaced by a
// fixed marker, so that even Reveal on the copy tells nothing. Secret
// already masks itself when printed; this is for handing a configuration
// to code that should not hold the values (a debug page, a bug report).
func (c Config) Redacted() Config {
	out := c
	out.EnrollSecrets = nil
	for _, e := range c.EnrollSecrets {
		e.Secret = Secret(e.Secret.String())
		out.EnrollSecrets = append(out.EnrollSecrets, e)
	}
	out.AdminTokens = nil
	for _, t := range c.AdminTokens {
		t.Token = Secret(t.Token.String())
		out.AdminTokens = append(out.AdminTokens, t)
	}
	out.Sources.Okta.Token = Secret(c.Sources.Okta.Token.String())
	out.Sources.Entra.ClientSecret = Secret(c.Sources.Entra.ClientSecret.String())
	out.OIDC.ClientSecret = Secret(c.OIDC.ClientSecret.String())
	out.Digest.SMTP.Password = Secret(c.Digest.SMTP.Password.String())
	out.Sources.Mail.Mailboxes = nil
	for _, m := range c.Sources.Mail.Mailboxes {
		m.Password = Secret(m.Password.String())
		out.Sources.Mail.Mailboxes = append(out.Sources.Mail.Mailboxes, m)
	}
	out.Warnings = append([]string(nil), c.Warnings...)
	return out
}
