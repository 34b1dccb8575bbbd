package config

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/shadowmap/shadowmap/internal/secret"
)

// redacted is what a Secret shows instead of its value.
const redacted = "[redacted]"

// Secret is a credential from the configuration: an enroll secret or an
// admin token. It masks itself everywhere it could leak by accident: fmt
// (every verb, also inside structs), log/slog, JSON, YAML and text
// marshalling all show "[redacted]" (or nothing for an empty secret).
// Reveal returns the value for the one place that needs it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String masks the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format masks the value for every fmt verb, %#v and %x included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// GoString masks the value.
func (s Secret) GoString() string { return s.String() }

// LogValue masks the value in log/slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the value for encoding/json and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML masks the value when a Config is written out as YAML.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Equal reports whether presented is this secret, in time that depends on
// neither value nor length: both sides are hashed before the constant-time
// compare. An empty secret equals nothing.
func (s Secret) Equal(presented string) bool {
	return secret.Equal(string(s), presented)
}

// MatchEnrollSecret returns the configured enroll secret equal to
// presented, revoked or not: the caller refuses a revoked one with 403 and
// an unknown one with 401. Every entry is compared, so the time taken does
// not tell which one matched.
func (c *Config) MatchEnrollSecret(presented string) (EnrollSecret, bool) {
	var found EnrollSecret
	ok := false
	for _, e := range c.EnrollSecrets {
		if e.Secret.Equal(presented) && !ok {
			found, ok = e, true
		}
	}
	return found, ok
}

// MatchAdminToken returns the configured admin token equal to presented,
// revoked or not; see MatchEnrollSecret.
func (c *Config) MatchAdminToken(presented string) (AdminToken, bool) {
	var found AdminToken
	ok := false
	for _, t := range c.AdminTokens {
		if t.Token.Equal(presented) && !ok {
			found, ok = t, true
		}
	}
	return found, ok
}
