package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/internal/loopback"
)

// Problem is one thing wrong with the settings.
type Problem struct {
	// Setting is the setting's name for people ("collector URL"), or the
	// source that could not be read ("config file").
	Setting string `json:"setting"`
	// Where says where the bad value came from; empty when the setting
	// is missing altogether.
	Where   string `json:"where,omitempty"`
	Message string `json:"message"`
}

// String is the problem on one line.
func (p Problem) String() string {
	if p.Where == "" {
		return p.Setting + ": " + p.Message
	}
	return fmt.Sprintf("%s (from %s): %s", p.Setting, p.Where, p.Message)
}

// Problems is every problem found in the settings, returned together so
// one look at `status` shows all there is to fix. It is an error; as text
// it is one problem a line (Lines), ready to store in the status file.
type Problems []Problem

// Error implements error.
func (ps Problems) Error() string {
	if len(ps) == 1 {
		return "agent configuration: " + ps[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "agent configuration has %d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Lines is the problems as text, one a line.
func (ps Problems) Lines() []string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return lines
}

// Limits the validation holds settings to.
const (
	MinFlushInterval = 10 * time.Second
	MaxFlushInterval = 24 * time.Hour
	MinMemoryLimit   = 4 << 20
	// MaxOwnDomains bounds the company's own domains: each is compared
	// with every new name the telemetry reduces.
	MaxOwnDomains = 100
)

// validate checks the resolved settings and returns what is wrong.
func validate(s *Settings) Problems {
	var ps Problems
	add := func(k key, where, format string, args ...any) {
		ps = append(ps, Problem{Setting: keys[k].label, Where: where, Message: fmt.Sprintf(format, args...)})
	}
	if s.CollectorURL.Value == "" {
		add(keyCollectorURL, "", "not set: give it with -%s, %s, %s in the config file, or the MDM key %s",
			keys[keyCollectorURL].flag, keys[keyCollectorURL].env, keys[keyCollectorURL].yaml, keys[keyCollectorURL].managed)
	} else if msg := checkCollectorURL(s.CollectorURL.Value); msg != "" {
		add(keyCollectorURL, s.CollectorURL.Where(), "%s", msg)
	}
	if s.EnrollSecret.Value == "" && s.EnrollSecret.Source == SourceDefault {
		add(keyEnrollSecret, "", "not set: give it with %s, %s or -%s, %s in the config file, or the MDM key %s",
			keys[keyEnrollSecret].env, keys[keyEnrollSecretFile].env, keys[keyEnrollSecretFile].flag,
			keys[keyEnrollSecret].yaml, keys[keyEnrollSecret].managed)
	} else if s.EnrollSecret.Value == "" {
		add(keyEnrollSecret, s.EnrollSecret.Where(), "is empty")
	}
	if e := s.OwnerEmail.Value; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			add(keyOwnerEmail, s.OwnerEmail.Where(), "%q is not an email address such as alice@example.com", e)
		}
	}
	for _, name := range repeats(s.Interfaces.Value) {
		add(keyInterfaces, s.Interfaces.Where(), "%q is listed twice", name)
	}
	if d := s.FlushInterval.Value; d < MinFlushInterval || d > MaxFlushInterval {
		add(keyFlushInterval, s.FlushInterval.Where(), "%v is out of range: give between %v and %v", d, MinFlushInterval, MaxFlushInterval)
	}
	if dir := s.StateDir.Value; dir == "" {
		add(keyStateDir, s.StateDir.Where(), "is empty")
	} else if !filepath.IsAbs(dir) {
		add(keyStateDir, s.StateDir.Where(), "%q is not an absolute path: a service's working directory is not to be relied on", dir)
	}
	if n := s.MemoryLimit.Value; n < MinMemoryLimit {
		add(keyMemoryLimit, s.MemoryLimit.Where(), "%s is too small: give at least %s", sizeText(n), sizeText(MinMemoryLimit))
	}
	if p := s.CPUPercent.Value; p < 1 || p > 100 {
		add(keyCPUPercent, s.CPUPercent.Where(), "%d%% is out of range: give 1 to 100 (percent of one core)", p)
	}
	if n := len(s.OwnDomains.Value); n > MaxOwnDomains {
		add(keyOwnDomains, s.OwnDomains.Where(), "lists %d domains: give at most %d (subdomains need no entry of their own)", n, MaxOwnDomains)
	}
	for _, d := range repeats(s.OwnDomains.Value) {
		add(keyOwnDomains, s.OwnDomains.Where(), "%q is listed twice", d)
	}
	return ps
}

// repeats is every item of list that an earlier item already gave, in
// order: "a,b,a,a" repeats a twice.
func repeats(list []string) []string {
	var out []string
	seen := make(map[string]bool, len(list))
	for _, item := range list {
		if seen[item] {
			out = append(out, item)
		}
		seen[item] = true
	}
	return out
}

// checkCollectorURL says what is wrong with a collector URL, or "".
func checkCollectorURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a URL"
	}
	// Messages show the URL with any password masked.
	raw = u.Redacted()
	if !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL such as https://shadowmap.example.com", raw)
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("%q has no host", raw)
	}
	if u.User != nil {
		return "must not hold a user name or password: agents authenticate with the enroll secret"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q has a query or fragment: give the collector's base URL", raw)
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return fmt.Sprintf("%q uses http: https is required unless the collector is on this machine (localhost), since the enroll secret and sightings travel in it", raw)
	}
	return ""
}
