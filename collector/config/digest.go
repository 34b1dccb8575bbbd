package config

import (
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/internal/loopback"
)

// Digest configures the weekly shadow-IT digest by email
// (collector/digest). The recipients are set in the web view (settings),
// so that IT can change them without a restart; this section says when
// and through which SMTP server the digest goes.
type Digest struct {
	// Enabled turns the weekly send on. Off by default: a collector must
	// not start mailing people because an SMTP host was filled in.
	Enabled bool `yaml:"enabled"`
	// Weekday and Hour are when the digest is due, in TimeZone.
	Weekday string `yaml:"weekday"`
	Hour    int    `yaml:"hour"`
	// TimeZone is an IANA Location name ("Europe/Berlin"), so the digest
	// keeps arriving at 08:00 across daylight saving changes.
	TimeZone string `yaml:"time_zone"`
	// BaseURL is where readers reach the web view; every line of the
	// digest links below it.
	BaseURL string `yaml:"base_url"`
	// From is the sender address ("Shadowmap <shadowmap@acme.example>").
	From string `yaml:"from"`
	// Company names the company in the subject and heading.
	Company string `yaml:"company"`
	// SendEmpty sends a short "nothing new" digest for a quiet week, so
	// that silence never hides a broken collector.
	SendEmpty bool `yaml:"send_empty"`
	// SMTP is the server the digest is sent through.
	SMTP SMTP `yaml:"smtp"`
}

// SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPImplicit = "implicit"
	SMTPNoTLS    = "none"
)

// SMTP is an SMTP submission server.
type SMTP struct {
	Host string `yaml:"host"`
	// Port defaults to 587 (starttls), 465 (implicit) or 25 (none).
	Port int `yaml:"port"`
	// TLS is starttls (the default), implicit, or none (loopback only:
	// a password never crosses a network in clear).
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of CAs to trust besides the system's.
	CAFile string `yaml:"ca_file"`
	// Username turns authentication (PLAIN or LOGIN) on.
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Timeout bounds connecting and each SMTP exchange.
	Timeout time.Duration `yaml:"timeout"`
}

// Digest defaults.
const (
	DefaultDigestWeekday  = "monday"
	DefaultDigestHour     = 8
	DefaultDigestTimeZone = "UTC"
	DefaultSMTPTimeout    = 30 * time.Second
)

func defaultDigest() Digest {
	return Digest{
		Weekday:   DefaultDigestWeekday,
		Hour:      DefaultDigestHour,
		TimeZone:  DefaultDigestTimeZone,
		SendEmpty: true,
		SMTP:      SMTP{TLS: SMTPStartTLS, Timeout: DefaultSMTPTimeout},
	}
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// WeekdayValue returns Weekday as a time.Weekday; Monday when it is
// unknown (Validate refuses that).
func (d Digest) WeekdayValue() time.Weekday {
	if w, ok := d.weekday(); ok {
		return w
	}
	return time.Monday
}

// weekday looks Weekday up, whatever its case and surrounding spaces.
func (d Digest) weekday() (time.Weekday, bool) {
	w, ok := weekdays[strings.ToLower(strings.TrimSpace(d.Weekday))]
	return w, ok
}

// Location loads TimeZone; UTC when it is empty.
func (d Digest) Location() (*time.Location, error) {
	if strings.TrimSpace(d.TimeZone) == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(d.TimeZone)
}

// PortOrDefault returns Port, or the usual port of the TLS mode.
func (s SMTP) PortOrDefault() int {
	if s.Port != 0 {
		return s.Port
	}
	switch s.TLS {
	case SMTPImplicit:
		return 465
	case SMTPNoTLS:
		return 25
	}
	return 587
}

// validateDigest adds the problems of the digest section to bad. The SMTP
// settings are checked even when the send is off, since `shadowmap digest
// send` uses them by hand.
func (c Config) validateDigest(bad func(format string, args ...any)) {
	d := c.Digest
	if _, ok := d.weekday(); !ok {
		bad("digest.weekday %q: want a day of the week such as monday", d.Weekday)
	}
	if d.Hour < 0 || d.Hour > 23 {
		bad("digest.hour %d: want 0 to 23", d.Hour)
	}
	if _, err := d.Location(); err != nil {
		bad("digest.time_zone %q: want a time zone name such as Europe/Berlin", d.TimeZone)
	}
	if d.BaseURL != "" {
		if u, err := url.Parse(d.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("digest.base_url %q: want the web view's http(s) address", d.BaseURL)
		}
	}
	if d.From != "" {
		if _, err := mail.ParseAddress(d.From); err != nil {
			bad("digest.from %q: want an email address", d.From)
		}
	}
	s := d.SMTP
	switch s.TLS {
	case SMTPStartTLS, SMTPImplicit:
	case SMTPNoTLS:
		if s.Host != "" && !loopback.Host(s.Host) {
			bad("digest.smtp.tls none with host %q: only a server on this machine may be used without TLS", s.Host)
		}
	default:
		bad("digest.smtp.tls %q: want starttls, implicit or none", s.TLS)
	}
	if s.Port < 0 || s.Port > 65535 {
		bad("digest.smtp.port %d: want 1 to 65535", s.Port)
	}
	if s.Timeout < 0 {
		bad("digest.smtp.timeout %v: must not be negative", s.Timeout)
	}
	if s.Password != "" && s.Username == "" {
		bad("digest.smtp: password without username")
	}
	if d.Enabled {
		if s.Host == "" {
			bad("digest.smtp.host is required with digest.enabled")
		}
		if d.From == "" {
			bad("digest.from is required with digest.enabled")
		}
		if d.BaseURL == "" {
			bad("digest.base_url is required with digest.enabled: every line of the digest links to the web view")
		}
	}
}

// digestSecretFile is the SMTP password file for readSecretFiles.
func (c *Config) digestSecretFile() secretFile {
	return secretFile{"digest.smtp", c.Digest.SMTP.PasswordFile, &c.Digest.SMTP.Password, "password_file", "password"}
}
