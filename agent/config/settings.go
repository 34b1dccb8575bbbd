package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Source is where a setting's value came from.
type Source string

// The sources, highest precedence first.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceMDM     Source = "mdm"
	SourceFile    Source = "file"
	SourceDefault Source = "default"
)

// noun is how a source reads in a sentence: "from the MDM profile".
func (s Source) noun() string {
	switch s {
	case SourceFlag:
		return "flag"
	case SourceEnv:
		return "environment"
	case SourceMDM:
		return "MDM profile"
	case SourceFile:
		return "config file"
	}
	return "default"
}

// Setting is one setting's value and where it came from.
type Setting[T any] struct {
	Value  T
	Source Source
	// Origin is the exact place within the source: the flag or variable
	// name, "/etc/shadowmap/agent.yaml line 3", a plist or registry key.
	Origin string
}

// Where says where the value came from, for a person: "flag -collector",
// "MDM profile /Library/Managed Preferences/com.shadowmap.agent.plist key
// CollectorURL", "default".
func (s Setting[T]) Where() string {
	if s.Origin == "" {
		return s.Source.noun()
	}
	return s.Source.noun() + " " + s.Origin
}

// redacted is what a Secret prints as, however it is printed.
const redacted = "[redacted]"

// Secret is a credential. It prints, logs and encodes as [redacted]
// whatever the verb or encoder; Reveal is the only way to the value.
type Secret string

// Reveal returns the secret itself, to send it to the collector.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return strconv.Quote(redacted) }

// Format implements fmt.Formatter so no verb (%x, %q, %d) shows the value.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler, used by JSON and YAML.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// ResolverMode says whether the local DNS forwarder runs.
type ResolverMode string

// The resolver modes. The forwarder is opt-in: off unless IT turns it on
// for hosts where packet capture is not allowed.
const (
	ResolverOff     ResolverMode = "off"
	ResolverForward ResolverMode = "forward"
)

// Defaults for settings nobody set.
const (
	DefaultFlushInterval = 5 * time.Minute
	DefaultMemoryLimit   = 16 << 20
	DefaultCPUPercent    = 5
)

// Settings are the agent's resolved settings.
type Settings struct {
	// CollectorURL is the collector's base URL.
	CollectorURL Setting[string]
	// EnrollSecret is the secret the agent enrolls with; when it came from
	// a secret file, Origin names that file.
	EnrollSecret Setting[Secret]
	// OwnerEmail is the device owner's email, when MDM knows it.
	OwnerEmail Setting[string]
	// User is the OS account sightings are attributed to.
	User Setting[string]
	// Interfaces to capture on; empty means all.
	Interfaces Setting[[]string]
	// FlushInterval is how often aggregates are spooled and uploaded.
	FlushInterval Setting[time.Duration]
	// StateDir holds the spool, the enrollment and the status file.
	StateDir Setting[string]
	// MemoryLimit is the soft heap limit in bytes (debug.SetMemoryLimit).
	MemoryLimit Setting[int64]
	// CPUPercent is the CPU budget in percent of one core.
	CPUPercent Setting[int]
	// ResolverMode turns the local DNS forwarder on; off by default.
	ResolverMode Setting[ResolverMode]
	// UnknownDomains turns on unknown-domain telemetry (registrable
	// domains and counts only); off by default.
	UnknownDomains Setting[bool]
	// OwnDomains are the company's own domains, lower-case punycode:
	// unknown-domain telemetry never reports them or names under them.
	OwnDomains Setting[[]string]
	// LogLevel is the minimum level logged.
	LogLevel Setting[slog.Level]

	// ConfigFile is the config file consulted, and whether it existed.
	ConfigFile       string
	ConfigFileExists bool
	// Warnings are things worth fixing that do not stop the agent, such
	// as a secret file other users can read.
	Warnings []string
}

// Entry is one line of the redacted view: safe to print, log and store.
type Entry struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source Source `json:"source"`
	Where  string `json:"where"`
}

// Redacted is the settings for `status` and logs: every setting with its
// value as text and where it came from, the enroll secret only as "set" or
// "not set".
func (s *Settings) Redacted() []Entry {
	secret := "not set"
	if s.EnrollSecret.Value != "" {
		secret = "set"
	}
	return []Entry{
		entry(keyCollectorURL, s.CollectorURL, redactURL(s.CollectorURL.Value)),
		entry(keyEnrollSecret, s.EnrollSecret, secret),
		entry(keyOwnerEmail, s.OwnerEmail, s.OwnerEmail.Value),
		entry(keyUser, s.User, s.User.Value),
		entry(keyInterfaces, s.Interfaces, interfacesText(s.Interfaces.Value)),
		entry(keyFlushInterval, s.FlushInterval, s.FlushInterval.Value.String()),
		entry(keyStateDir, s.StateDir, s.StateDir.Value),
		entry(keyMemoryLimit, s.MemoryLimit, sizeText(s.MemoryLimit.Value)),
		entry(keyCPUPercent, s.CPUPercent, strconv.Itoa(s.CPUPercent.Value)+"% of one core"),
		entry(keyResolverMode, s.ResolverMode, string(s.ResolverMode.Value)),
		entry(keyUnknownDomains, s.UnknownDomains, onOff(s.UnknownDomains.Value)),
		entry(keyOwnDomains, s.OwnDomains, domainsText(s.OwnDomains.Value)),
		entry(keyLogLevel, s.LogLevel, strings.ToLower(s.LogLevel.Value.String())),
	}
}

func entry[T any](k key, s Setting[T], value string) Entry {
	return Entry{Name: keys[k].label, Value: value, Source: s.Source, Where: s.Where()}
}

// redactURL masks a password in a URL; text that is not a URL is shown
// as a placeholder, since it might be anything.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}

func interfacesText(list []string) string {
	if len(list) == 0 {
		return "all"
	}
	return strings.Join(list, ",")
}

func domainsText(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ",")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// sizeText prints whole mebibytes as such, other sizes in bytes.
func sizeText(n int64) string {
	if n > 0 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// String is the redacted view as an aligned table, one setting a line.
func (s *Settings) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, e := range s.Redacted() {
		fmt.Fprintf(tw, "%s\t%s\t(%s)\n", e.Name, e.Value, e.Where)
	}
	tw.Flush()
	return b.String()
}

// LogValue implements slog.LogValuer: the redacted values as a group.
func (s *Settings) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, e := range s.Redacted() {
		attrs = append(attrs, slog.String(strings.ReplaceAll(e.Name, " ", "_"), e.Value))
	}
	return slog.GroupValue(attrs...)
}
