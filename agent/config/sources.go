package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// rawValue is one setting as a source gave it, before parsing.
type rawValue struct {
	text   string
	origin string
}

// layer is what one source set.
type layer struct {
	source Source
	values [numKeys]*rawValue
}

func (l *layer) set(k key, text, origin string) {
	l.values[k] = &rawValue{text: text, origin: origin}
}

// envLayer reads the SHADOWMAP_AGENT_* variables. An empty variable counts
// as unset: service definitions often carry empty placeholders.
func envLayer(getenv func(string) string) layer {
	l := layer{source: SourceEnv}
	if getenv == nil {
		return l
	}
	for k := range numKeys {
		name := keys[k].env
		if name == "" {
			continue
		}
		if v := strings.TrimSpace(getenv(name)); v != "" {
			l.set(k, v, name)
		}
	}
	return l
}

// Flags are the agent's command-line flags, registered by RegisterFlags.
type Flags struct {
	values [numKeys]*flagValue
	config flagValue
}

// flagValue records the text of a flag and whether it was given at all,
// so only flags on the command line override the other sources.
type flagValue struct {
	text   string
	set    bool
	isBool bool
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func (f *flagValue) Set(s string) error {
	f.text, f.set = s, true
	return nil
}

// IsBoolFlag lets `-unknown-domains` stand for `-unknown-domains=true`.
func (f *flagValue) IsBoolFlag() bool { return f.isBool }

// RegisterFlags defines the agent's settings flags on fs: -collector,
// -enroll-secret-file, -owner-email, -user, -interfaces, -interval,
// -state-dir, -memory-limit, -cpu-percent, -resolver-mode,
// -unknown-domains, -own-domains, -log-level and -config. Pass the result to Load in
// Options.Flags after fs.Parse. There is no flag for the secret itself:
// a command line is visible to every user of the machine.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	for k := range numKeys {
		info := keys[k]
		if info.flag == "" {
			continue
		}
		v := &flagValue{isBool: info.boolFlag}
		f.values[k] = v
		fs.Var(v, info.flag, fmt.Sprintf("%s (%s)", info.usage, info.env))
	}
	fs.Var(&f.config, configFlag, fmt.Sprintf("config file (%s; default %s)", configEnv, DefaultConfigPath(nil)))
	return f
}

func (f *Flags) layer() layer {
	l := layer{source: SourceFlag}
	if f == nil {
		return l
	}
	for k, v := range f.values {
		if v != nil && v.set {
			l.set(key(k), strings.TrimSpace(v.text), "-"+keys[k].flag)
		}
	}
	return l
}

// parseDuration reads whole seconds ("300") or a Go duration ("5m").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(365*24*time.Hour/time.Second) {
			return 0, fmt.Errorf("%d seconds is out of range", n)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: give seconds or a value such as 5m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// sizeUnits are the suffixes parseSize takes, longest first so "MiB" is
// not read as "B".
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize reads a byte count: "16777216", "16MiB", "16M", "20 MB".
func parseSize(s string) (int64, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(text, u.suffix); ok {
			text, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: give bytes or a value such as 16MiB", s)
	}
	if n > (1<<62)/factor {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * factor, nil
}

func parsePercent(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of percent", s)
	}
	return n, nil
}

// parseBool takes what people write in YAML, plists, the registry and
// environment variables.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: give true or false", s)
}

func parseResolverMode(s string) (ResolverMode, error) {
	switch m := ResolverMode(strings.ToLower(s)); m {
	case ResolverOff, ResolverForward:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a resolver mode: give %q or %q", s, ResolverOff, ResolverForward)
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not a log level: give debug, info, warn or error", s)
	}
	return l, nil
}

// parseInterfaces splits a comma-separated list, dropping empty items.
func parseInterfaces(s string) ([]string, error) {
	var list []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list, nil
}

// parseDomains reads a comma-separated list of domains, each normalized
// by parseDomain. Unlike interfaces, an empty entry is an error: "acme.com,,"
// more likely lost a domain than gained a comma. Every bad entry is named.
func parseDomains(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var list []string
	var bad []string
	for item := range strings.SplitSeq(s, ",") {
		d, err := parseDomain(strings.TrimSpace(item))
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		list = append(list, d)
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return list, nil
}

// parseDomain turns one domain into the form names are compared in:
// lower-case punycode without a trailing dot, as names are seen on the
// wire. Wildcards are refused rather than read as their base, since the
// domain itself already covers every name under it.
func parseDomain(s string) (string, error) {
	d := strings.TrimSuffix(s, ".")
	switch {
	case d == "":
		return "", errors.New("an entry is empty")
	case strings.Contains(d, "*") || strings.HasPrefix(d, "."):
		return "", fmt.Errorf("%q is a wildcard: give the domain itself, such as acme.com; names under it are covered", s)
	case isIPLike(d):
		return "", fmt.Errorf("%q is an IP address: give a domain name", s)
	case strings.ContainsFunc(d, func(r rune) bool { return strings.ContainsRune("/:@", r) || unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", fmt.Errorf("%q is not a bare domain name: give one such as acme.com, without scheme, port or path", s)
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain name: %v", s, err)
	}
	if len(a) > 253 {
		return "", fmt.Errorf("%q is longer than 253 bytes", s)
	}
	for label := range strings.SplitSeq(a, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("%q has an empty label or one longer than 63 bytes", s)
		}
	}
	// A public suffix would silence the telemetry for a whole TLD: surely
	// a mistake for the company's domain under it.
	if suffix, icann := publicsuffix.PublicSuffix(a); icann && suffix == a {
		return "", fmt.Errorf("%q is a public suffix: give the company's domain under it, such as acme.%s", s, a)
	}
	return a, nil
}

// isIPLike says whether s is an IP address, or ends in a numeric label
// as IPv4 addresses do; no top-level domain is all digits.
func isIPLike(s string) bool {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return true
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

func parseText(s string) (string, error) {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", errors.New("contains control characters")
	}
	return s, nil
}
