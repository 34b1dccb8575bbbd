package api

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field limits the decoders enforce on top of those in api.go. Lengths
// are in bytes. The agent keeps what it sends within them.
const (
	MaxBatchIDLen      = 64
	MaxAgentVersionLen = 64
	MaxAppIDLen        = 64
	MaxDomainLen       = 253
	MaxTenantLen       = 63
	MaxUserLen         = 128
	// MaxSightingCount caps one sighting's count: a billion lookups of
	// one app by one user in a day is already not a person.
	MaxSightingCount = 1_000_000_000
	MaxHostnameLen   = 253
	MaxOSVersionLen  = 64
	MaxArchLen       = 32
	MaxEmailLen      = 254
	// MaxEnrollSecretLen bounds the enroll secret an agent presents.
	MaxEnrollSecretLen = 256
	MaxLastErrorLen    = 1024
)

// The operating systems an agent runs on, as Go's GOOS names them.
const (
	OSDarwin  = "darwin"
	OSWindows = "windows"
	OSLinux   = "linux"
)

// The capture states a heartbeat reports.
const (
	CaptureRunning      = "running"
	CaptureDegraded     = "degraded"
	CaptureStopped      = "stopped"
	CaptureNotPermitted = "not_permitted"
)

// The sources of a sighting.
const (
	SourceDNS = "dns"
	SourceSNI = "sni"
)

// ValidateBatch checks a batch as DecodeBatch does; the agent can use it
// to keep a batch the collector would refuse out of its spool. A sighting
// is a daily aggregate: both its first and last seen times fall on its
// Day (UTC), within [now-MaxSightingAge, now+MaxClockSkew].
func ValidateBatch(b SightingsBatch, now time.Time) error {
	if err := checkBatchID(b.BatchID); err != nil {
		return err
	}
	if err := checkText("agent_version", b.AgentVersion, MaxAgentVersionLen, true); err != nil {
		return err
	}
	switch {
	case len(b.Sightings) == 0 && len(b.UnknownDomains) == 0:
		// A batch of unknown domains alone is fine: the agent saw
		// no app in that time but the telemetry is on.
		return &ValidationError{Field: "sightings", Msg: "must hold at least one sighting"}
	case len(b.Sightings) > MaxSightings:
		return fmt.Errorf("%w: more than %d sightings in one batch", ErrTooLarge, MaxSightings)
	case len(b.UnknownDomains) > MaxUnknownDomains:
		return fmt.Errorf("%w: more than %d unknown domains in one batch", ErrTooLarge, MaxUnknownDomains)
	}
	oldest, newest := now.Add(-MaxSightingAge), now.Add(MaxClockSkew)
	for i := range b.Sightings {
		if err := checkSighting(i, &b.Sightings[i], oldest, newest); err != nil {
			return err
		}
	}
	// An unknown domain has no times, only a day: the day must overlap
	// the window the sightings' times must fall in.
	oldestDay, newestDay := oldest.UTC().Format(time.DateOnly), newest.UTC().Format(time.DateOnly)
	for i := range b.UnknownDomains {
		if err := checkUnknownDomain(i, &b.UnknownDomains[i], oldestDay, newestDay); err != nil {
			return err
		}
	}
	return nil
}

// checkUnknownDomain checks unknown domain i of a batch. Dates in
// YYYY-MM-DD compare as strings.
func checkUnknownDomain(i int, u *UnknownDomain, oldestDay, newestDay string) error {
	field := func(name string) string { return unknownDomainField(i) + "." + name }
	if !isRegistrable(u.Domain) {
		return invalid(field("domain"), u.Domain, fmt.Sprintf("is not a lowercase registrable domain of at most %d bytes (public suffix plus one label, no private suffix)", MaxDomainLen))
	}
	if _, err := time.Parse(time.DateOnly, u.Day); err != nil || len(u.Day) != len(time.DateOnly) {
		return invalid(field("day"), u.Day, "is not a date (YYYY-MM-DD)")
	}
	switch {
	case u.Day < oldestDay:
		return &ValidationError{Field: field("day"), Msg: fmt.Sprintf("%s is older than %s", u.Day, span(MaxSightingAge))}
	case u.Day > newestDay:
		return &ValidationError{Field: field("day"), Msg: fmt.Sprintf("%s is more than %s in the future", u.Day, span(MaxClockSkew))}
	}
	if u.Count < 1 || u.Count > MaxSightingCount {
		return &ValidationError{Field: field("count"), Msg: fmt.Sprintf("%d is not between 1 and %d", u.Count, MaxSightingCount)}
	}
	return nil
}

func checkBatchID(id string) error {
	if id == "" {
		return &ValidationError{Field: "batch_id", Msg: "is required"}
	}
	if len(id) > MaxBatchIDLen {
		return &ValidationError{Field: "batch_id", Msg: fmt.Sprintf("is longer than %d bytes", MaxBatchIDLen)}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(isAlnum(c) || c == '.' || c == '_' || c == ':' || c == '-') {
			return &ValidationError{Field: "batch_id", Msg: quote(id) + " may hold only letters, digits and . _ : -"}
		}
	}
	return nil
}

// checkSighting checks sighting i of a batch. Field paths are built only
// on failure: this runs for every sighting the collector ingests.
func checkSighting(i int, s *Sighting, oldest, newest time.Time) error {
	field := func(name string) string { return sightingField(i) + "." + name }
	if !isAppID(s.App) {
		return invalid(field("app"), s.App, fmt.Sprintf("is not an app id (lowercase letters, digits and dashes, at most %d)", MaxAppIDLen))
	}
	if !isDomain(s.Domain) {
		return invalid(field("domain"), s.Domain, fmt.Sprintf("is not a lowercase domain name of at most %d bytes", MaxDomainLen))
	}
	if s.Tenant != "" && !isTenant(s.Tenant) {
		return invalid(field("tenant"), s.Tenant, fmt.Sprintf("is not a lowercase hostname label of at most %d bytes", MaxTenantLen))
	}
	if s.Source != SourceDNS && s.Source != SourceSNI {
		return invalid(field("source"), s.Source, "must be dns or sni")
	}
	if err := checkText(field("user"), s.User, MaxUserLen, false); err != nil {
		return err
	}
	// time.Parse checks the calendar (no 2025-02-30) and the digit
	// counts; the length check refuses anything after the date.
	day, err := time.Parse(time.DateOnly, s.Day)
	if err != nil || len(s.Day) != len(time.DateOnly) {
		return invalid(field("day"), s.Day, "is not a date (YYYY-MM-DD)")
	}
	if s.Count < 1 || s.Count > MaxSightingCount {
		return &ValidationError{Field: field("count"), Msg: fmt.Sprintf("%d is not between 1 and %d", s.Count, MaxSightingCount)}
	}
	nextDay := day.AddDate(0, 0, 1)
	for _, t := range [...]struct {
		name string
		at   time.Time
	}{{"first_seen", s.FirstSeen}, {"last_seen", s.LastSeen}} {
		switch {
		case t.at.IsZero():
			return &ValidationError{Field: field(t.name), Msg: "is required"}
		case t.at.Before(oldest):
			return &ValidationError{Field: field(t.name), Msg: fmt.Sprintf("%s is older than %s", stamp(t.at), span(MaxSightingAge))}
		case t.at.After(newest):
			return &ValidationError{Field: field(t.name), Msg: fmt.Sprintf("%s is more than %s in the future", stamp(t.at), span(MaxClockSkew))}
		case t.at.Before(day) || !t.at.Before(nextDay):
			return &ValidationError{Field: field(t.name), Msg: fmt.Sprintf("%s is not on day %s (UTC)", stamp(t.at), s.Day)}
		}
	}
	if s.FirstSeen.After(s.LastSeen) {
		return &ValidationError{Field: field("first_seen"), Msg: "is after last_seen"}
	}
	return nil
}

// ValidateEnroll checks an enrollment request as DecodeEnroll does.
func ValidateEnroll(r EnrollRequest) error {
	switch {
	case r.EnrollSecret == "":
		return &ValidationError{Field: "enroll_secret", Msg: "is required"}
	case len(r.EnrollSecret) > MaxEnrollSecretLen:
		return &ValidationError{Field: "enroll_secret", Msg: fmt.Sprintf("is longer than %d bytes", MaxEnrollSecretLen)}
	case !isPrintable(r.EnrollSecret):
		// Never quoted: it is a secret, even when it is a wrong one.
		return &ValidationError{Field: "enroll_secret", Msg: "holds characters that are not printable"}
	}
	if err := checkText("hostname", r.Hostname, MaxHostnameLen, true); err != nil {
		return err
	}
	switch r.OS {
	case OSDarwin, OSWindows, OSLinux:
	default:
		return invalid("os", r.OS, "must be darwin, windows or linux")
	}
	if err := checkText("os_version", r.OSVersion, MaxOSVersionLen, false); err != nil {
		return err
	}
	if err := checkText("arch", r.Arch, MaxArchLen, false); err != nil {
		return err
	}
	if err := checkText("agent_version", r.AgentVersion, MaxAgentVersionLen, true); err != nil {
		return err
	}
	if r.OwnerEmail != "" && !isEmail(r.OwnerEmail) {
		// Not quoted: an email names a person.
		return &ValidationError{Field: "owner_email", Msg: fmt.Sprintf("is not a bare email address of at most %d bytes", MaxEmailLen)}
	}
	return checkText("user", r.User, MaxUserLen, false)
}

// ValidateHeartbeat checks a heartbeat as DecodeHeartbeat does.
func ValidateHeartbeat(h Heartbeat) error {
	if err := checkText("agent_version", h.AgentVersion, MaxAgentVersionLen, true); err != nil {
		return err
	}
	switch h.CaptureState {
	case CaptureRunning, CaptureDegraded, CaptureStopped, CaptureNotPermitted:
	default:
		return invalid("capture_state", h.CaptureState, "must be running, degraded, stopped or not_permitted")
	}
	if h.SpoolDepth < 0 {
		return &ValidationError{Field: "spool_depth", Msg: fmt.Sprintf("%d is negative", h.SpoolDepth)}
	}
	if len(h.LastError) > MaxLastErrorLen {
		return &ValidationError{Field: "last_error", Msg: fmt.Sprintf("is longer than %d bytes", MaxLastErrorLen)}
	}
	for _, r := range h.LastError {
		if r != '\n' && r != '\t' && !isPrintableRune(r) {
			return &ValidationError{Field: "last_error", Msg: "holds characters that are not printable"}
		}
	}
	if len(h.Interfaces) > MaxInterfaces {
		return &ValidationError{Field: "interfaces", Msg: fmt.Sprintf("lists more than %d interfaces", MaxInterfaces)}
	}
	for _, name := range h.Interfaces {
		if err := checkText("interfaces", name, MaxInterfaceLen, true); err != nil {
			return err
		}
	}
	return checkText("user", h.User, MaxUserLen, false)
}

// Bounds of a heartbeat's interface list: a laptop has a handful.
const (
	MaxInterfaces   = 64
	MaxInterfaceLen = 64
)

// checkText checks a free-text field: at most max bytes, printable. Its
// value is never quoted back: user names and host names say who.
func checkText(field, s string, max int, required bool) error {
	switch {
	case s == "" && required:
		return &ValidationError{Field: field, Msg: "is required"}
	case len(s) > max:
		return &ValidationError{Field: field, Msg: fmt.Sprintf("is longer than %d bytes", max)}
	case !isPrintable(s):
		return &ValidationError{Field: field, Msg: "holds characters that are not printable"}
	}
	return nil
}

// invalid reports a value that breaks a rule, quoting a bounded piece of
// it. Only for values that name no person.
func invalid(field, value, rule string) error {
	if value == "" {
		return &ValidationError{Field: field, Msg: "is required"}
	}
	return &ValidationError{Field: field, Msg: quote(value) + " " + rule}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// span writes a limit for people: "35 days", "24 hours".
func span(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 2*day && d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	case d >= 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// isPrintable reports whether s is valid UTF-8 of printable characters
// (letters, marks, numbers, punctuation, symbols and the ASCII space): no
// control characters, and no invisible formatting characters that could
// disguise a name in the web view.
func isPrintable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		if !isPrintableRune(r) {
			return false
		}
		i += size
	}
	return true
}

func isPrintableRune(r rune) bool {
	return r != utf8.RuneError && unicode.IsPrint(r)
}

// isAppID reports whether s has the shape of a catalog app id.
func isAppID(s string) bool {
	if s == "" || len(s) > MaxAppIDLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlnum(c) || c == '-') {
			return false
		}
	}
	return true
}

// isDomain reports whether s is a lowercase DNS name of two labels or more
// (a catalog domain: punycode, no trailing dot) and not an IPv4 address.
func isDomain(s string) bool {
	dot := strings.LastIndexByte(s, '.')
	if len(s) > MaxDomainLen || dot < 0 || allDigits(s[dot+1:]) {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(isLowerAlnum(c) || c == '-') {
				return false
			}
		}
	}
	return true
}

// isTenant reports whether s is a tenant as the catalog's matcher yields
// one: a lowercase hostname label, underscores allowed.
func isTenant(s string) bool {
	if s == "" || len(s) > MaxTenantLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLowerAlnum(c) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isEmail reports whether s is a bare address (no display name, no angle
// brackets) that net/mail accepts.
func isEmail(s string) bool {
	if len(s) > MaxEmailLen || !isPrintable(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }
