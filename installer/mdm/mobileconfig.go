package mdm

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"howett.net/plist"

	"github.com/shadowmap/shadowmap/agent/service"
	"github.com/shadowmap/shadowmap/internal/loopback"
)

// Identifiers the agent and macOS agree on.
const (
	// PreferenceDomain is the managed preferences domain the agent reads
	// (/Library/Managed Preferences/com.shadowmap.agent.plist).
	PreferenceDomain = "com.shadowmap.agent"
	// DefaultIdentifier is the profile's PayloadIdentifier when
	// ProfileOptions.Identifier is empty.
	DefaultIdentifier = "com.shadowmap.agent.profile"
)

// Payload types, as Apple's Device Management reference names them.
const (
	payloadTypeProfile           = "Configuration"
	payloadTypeManagedPrefs      = "com.apple.ManagedClient.preferences"
	payloadTypeServiceManagement = "com.apple.servicemanagement"
)

// ProfileOptions is what goes into a profile. CollectorURL and
// EnrollSecret are required; the rest is optional.
type ProfileOptions struct {
	// CollectorURL is the collector's base URL: https, or http only for a
	// collector on the device itself (loopback).
	CollectorURL string
	// EnrollSecret is the secret agents enroll with.
	EnrollSecret string
	// OwnerEmail is the device owner's email: an address, or an MDM
	// variable the server fills in per device ($EMAIL in Jamf Pro and
	// Kandji, {{mail}} in Intune, $FLEET_VAR_HOST_END_USER_EMAIL_IDP in
	// Fleet). Empty leaves it out.
	OwnerEmail string
	// Organization is shown to users as the profile's publisher.
	Organization string
	// Identifier is the profile's PayloadIdentifier, in reverse-DNS form;
	// empty means DefaultIdentifier. Payload identifiers derive from it.
	Identifier string
	// UUIDSeed makes the PayloadUUIDs: the same seed gives the same UUIDs
	// whatever the settings, so an edited profile uploaded again replaces
	// the installed one. Empty means the Identifier.
	UUIDSeed string
	// TeamID is the Apple Developer Team ID the agent binary is signed
	// with, if it is; it adds a TeamIdentifier rule so every background
	// item the team signs is allowed, beside the LaunchDaemon's label.
	TeamID string
	// AllowRemoval lets users remove the profile. By default they cannot
	// (PayloadRemovalDisallowed); the MDM server still can.
	AllowRemoval bool
}

// profile is the top level of a .mobileconfig.
type profile struct {
	PayloadContent           []any  `plist:"PayloadContent"`
	PayloadDescription       string `plist:"PayloadDescription"`
	PayloadDisplayName       string `plist:"PayloadDisplayName"`
	PayloadIdentifier        string `plist:"PayloadIdentifier"`
	PayloadOrganization      string `plist:"PayloadOrganization,omitempty"`
	PayloadRemovalDisallowed bool   `plist:"PayloadRemovalDisallowed"`
	PayloadScope             string `plist:"PayloadScope"`
	PayloadType              string `plist:"PayloadType"`
	PayloadUUID              string `plist:"PayloadUUID"`
	PayloadVersion           int    `plist:"PayloadVersion"`
}

// managedPrefsPayload forces preference keys in one or more domains. The
// Payload* keys are spelt out in each payload type because the plist
// encoder does not flatten embedded structs.
type managedPrefsPayload struct {
	PayloadDisplayName  string `plist:"PayloadDisplayName"`
	PayloadIdentifier   string `plist:"PayloadIdentifier"`
	PayloadOrganization string `plist:"PayloadOrganization,omitempty"`
	PayloadType         string `plist:"PayloadType"`
	PayloadUUID         string `plist:"PayloadUUID"`
	PayloadVersion      int    `plist:"PayloadVersion"`
	// Domain -> {"Forced": [{"mcx_preference_settings": {key: value}}]}.
	PayloadContent map[string]forcedPrefs `plist:"PayloadContent"`
}

type forcedPrefs struct {
	Forced []mcxSettings `plist:"Forced"`
}

type mcxSettings struct {
	Settings agentSettings `plist:"mcx_preference_settings"`
}

// agentSettings are the agent's managed keys (agent/config/keys.go).
type agentSettings struct {
	CollectorURL string `plist:"CollectorURL"`
	EnrollSecret string `plist:"EnrollSecret"`
	OwnerEmail   string `plist:"OwnerEmail,omitempty"`
}

// serviceManagementPayload is Managed Login Items (macOS 13+): matching
// background items are enabled, cannot be switched off in System
// Settings, and raise no "Background Items Added" notification.
type serviceManagementPayload struct {
	PayloadDisplayName  string        `plist:"PayloadDisplayName"`
	PayloadIdentifier   string        `plist:"PayloadIdentifier"`
	PayloadOrganization string        `plist:"PayloadOrganization,omitempty"`
	PayloadType         string        `plist:"PayloadType"`
	PayloadUUID         string        `plist:"PayloadUUID"`
	PayloadVersion      int           `plist:"PayloadVersion"`
	Rules               []serviceRule `plist:"Rules"`
}

type serviceRule struct {
	Comment   string `plist:"Comment,omitempty"`
	RuleType  string `plist:"RuleType"`
	RuleValue string `plist:"RuleValue"`
}

// MobileConfig returns an unsigned XML configuration profile with the
// agent's managed settings and a managed login item rule for its
// LaunchDaemon. The output depends only on o.
func MobileConfig(o ProfileOptions) ([]byte, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("mobileconfig: %w", err)
	}
	id := o.Identifier
	if id == "" {
		id = DefaultIdentifier
	}
	seed := o.UUIDSeed
	if seed == "" {
		seed = id
	}
	uuidFor := func(payloadType string) string { return nameUUID(seed + "\x00" + payloadType) }

	prefs := managedPrefsPayload{
		PayloadDisplayName:  "shadowmap agent settings",
		PayloadIdentifier:   id + ".settings",
		PayloadOrganization: o.Organization,
		PayloadType:         payloadTypeManagedPrefs,
		PayloadUUID:         uuidFor(payloadTypeManagedPrefs),
		PayloadVersion:      1,
		PayloadContent: map[string]forcedPrefs{
			PreferenceDomain: {Forced: []mcxSettings{{Settings: agentSettings{
				CollectorURL: o.CollectorURL,
				EnrollSecret: o.EnrollSecret,
				OwnerEmail:   o.OwnerEmail,
			}}}},
		},
	}
	rules := []serviceRule{{
		Comment:   "shadowmap agent LaunchDaemon",
		RuleType:  "Label",
		RuleValue: service.Name,
	}}
	if o.TeamID != "" {
		rules = append(rules, serviceRule{
			Comment:   "shadowmap agent signing team",
			RuleType:  "TeamIdentifier",
			RuleValue: o.TeamID,
		})
	}
	bg := serviceManagementPayload{
		PayloadDisplayName:  "shadowmap agent background item",
		PayloadIdentifier:   id + ".servicemanagement",
		PayloadOrganization: o.Organization,
		PayloadType:         payloadTypeServiceManagement,
		PayloadUUID:         uuidFor(payloadTypeServiceManagement),
		PayloadVersion:      1,
		Rules:               rules,
	}
	p := profile{
		PayloadContent: []any{prefs, bg},
		PayloadDescription: "Configures the shadowmap agent and keeps it running. " +
			"The agent reports which catalogued SaaS apps this Mac uses (app, domain, daily counts), never full URLs or page content.",
		PayloadDisplayName:       "shadowmap agent",
		PayloadIdentifier:        id,
		PayloadOrganization:      o.Organization,
		PayloadRemovalDisallowed: !o.AllowRemoval,
		PayloadScope:             "System",
		PayloadType:              payloadTypeProfile,
		PayloadUUID:              uuidFor(payloadTypeProfile),
		PayloadVersion:           1,
	}
	out, err := plist.MarshalIndent(p, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("mobileconfig: encode: %w", err)
	}
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

var (
	identifierRe = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
	teamIDRe     = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	// MDM variables an owner email may be instead of an address:
	// $EMAIL, ${FLEET_VAR_...} (Jamf Pro, Kandji, Fleet), {{mail}}
	// (Intune), %Email% (Jamf School).
	mdmVariableRe = regexp.MustCompile(`^(\$[A-Z][A-Z0-9_]*|\$\{[A-Z][A-Z0-9_]*\}|\{\{[A-Za-z][A-Za-z0-9_.]*\}\}|%[A-Za-z][A-Za-z0-9_]*%)$`)
)

func (o ProfileOptions) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"collector URL", o.CollectorURL},
		{"enroll secret", o.EnrollSecret},
		{"owner email", o.OwnerEmail},
		{"organization", o.Organization},
		{"identifier", o.Identifier},
		{"UUID seed", o.UUIDSeed},
		{"team ID", o.TeamID},
	} {
		if err := checkText(f.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	if len(errs) > 0 {
		// The checks below would only repeat the problem.
		return errors.Join(errs...)
	}
	if err := checkCollectorURL(o.CollectorURL); err != nil {
		errs = append(errs, fmt.Errorf("collector URL: %w", err))
	}
	switch {
	case o.EnrollSecret == "":
		errs = append(errs, errors.New("enroll secret is empty: give the secret from the collector's configuration"))
	case strings.TrimSpace(o.EnrollSecret) != o.EnrollSecret:
		// The agent trims managed values, so the enrolled secret would
		// differ from the one the collector was given.
		errs = append(errs, errors.New("enroll secret starts or ends with white space (a stray newline from the secret file?)"))
	}
	if o.OwnerEmail != "" && !mdmVariableRe.MatchString(o.OwnerEmail) {
		if a, err := mail.ParseAddress(o.OwnerEmail); err != nil || a.Name != "" || a.Address != o.OwnerEmail {
			errs = append(errs, fmt.Errorf("owner email %q is neither an address such as ana@example.com nor an MDM variable such as $EMAIL or {{mail}}", o.OwnerEmail))
		}
	}
	if o.Identifier != "" && !identifierRe.MatchString(o.Identifier) {
		errs = append(errs, fmt.Errorf("identifier %q is not reverse-DNS such as com.example.shadowmap", o.Identifier))
	}
	if o.TeamID != "" && !teamIDRe.MatchString(o.TeamID) {
		errs = append(errs, fmt.Errorf("team ID %q is not 10 upper-case letters and digits", o.TeamID))
	}
	return errors.Join(errs...)
}

// checkText rejects what a profile cannot carry or a person cannot see:
// invalid UTF-8 and control characters (XML 1.0 cannot hold most of them,
// and a newline in a URL or secret is always a mistake).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for i, r := range s {
		if unicode.IsControl(r) || r == '\uFFFE' || r == '\uFFFF' {
			return fmt.Errorf("holds control character %U at byte %d", r, i)
		}
	}
	return nil
}

// checkCollectorURL applies the agent's own rules (agent/config), so a
// profile never carries a URL the agent would refuse.
func checkCollectorURL(raw string) error {
	if raw == "" {
		return errors.New("is empty: give the collector's base URL, such as https://shadowmap.example.com")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.User != nil {
		return errors.New("must not hold a user name or password: agents authenticate with the enroll secret")
	}
	if !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute http(s) URL such as https://shadowmap.example.com", raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%q has a query or fragment: give the collector's base URL", raw)
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return fmt.Errorf("%q uses http: https is required unless the collector runs on the device itself, since the enroll secret travels in it", raw)
	}
	return nil
}
