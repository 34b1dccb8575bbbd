package inventory

import (
	"fmt"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/signatures"
)

// newWindow is how recent a first sighting must be for new_this_week.
const newWindow = 7 * 24 * time.Hour

// flagSet is a set of flags, one bit each, so the filter pass over every
// app allocates nothing; the explanations are written only for the rows
// a page shows.
type flagSet uint16

func flagBit(f Flag) flagSet {
	for i, v := range Flags() {
		if v == f {
			return 1 << i
		}
	}
	return 0
}

func (s flagSet) has(f Flag) bool { return s&flagBit(f) != 0 }

// evaluateFlags works out a row's flags. The row must have its times,
// tenants, IdP and risky scopes filled in; ev is the app's evidence
// counts per source.
func evaluateFlags(r *AppRow, ev map[collector.Source]int64, id *signatures.Identity, now time.Time) flagSet {
	var s flagSet
	set := func(f Flag, on bool) {
		if on {
			s |= flagBit(f)
		}
	}
	set(FlagOutsideIdP, !r.InsideIdP && hasUsage(ev))
	set(FlagSSOAvailableNotUsed, !r.InsideIdP && id != nil && (id.SSO.Supported == "yes" || id.SSO.Supported == "partial"))
	set(FlagNoSCIM, r.InsideIdP && !provisionsAutomatically(id, r.IdP))
	set(FlagRiskyOAuth, len(r.RiskyScopes) > 0)
	set(FlagPaidOutsideIdP, !r.InsideIdP && ev[collector.SourceInvoice] > 0)
	set(FlagNewThisWeek, !r.FirstSeen.IsZero() && !r.FirstSeen.Before(now.Add(-newWindow)))
	set(FlagMultipleTenants, len(r.Tenants) > 1)
	return s
}

func hasUsage(ev map[collector.Source]int64) bool {
	for s, n := range ev {
		if n > 0 && s.IsUsage() {
			return true
		}
	}
	return false
}

// explainFlags writes the one-line reason for each flag in s, in the
// order of Flags().
func explainFlags(s flagSet, r *AppRow, id *signatures.Identity) []FlagNote {
	if s == 0 {
		return nil
	}
	var out []FlagNote
	for _, f := range Flags() {
		if s.has(f) {
			out = append(out, FlagNote{Flag: f, Why: explainFlag(f, r, id)})
		}
	}
	return out
}

func explainFlag(f Flag, r *AppRow, id *signatures.Identity) string {
	switch f {
	case FlagOutsideIdP:
		return fmt.Sprintf("Used by %s (seen by %s) but not in any IdP.", who(r.People, r.Devices), strings.Join(usageSources(r.Evidence), ", "))
	case FlagSSOAvailableNotUsed:
		plan := ""
		if p := planPhrase(id.SSO.Tier); p != "" {
			plan = " on the " + p + " plan"
		}
		return fmt.Sprintf("The catalog says the app offers %s%s, but it is not in the IdP.", ssoPhrase(id), plan)
	case FlagNoSCIM:
		return noSCIMWhy(id, r.IdP)
	case FlagRiskyOAuth:
		names := make([]string, len(r.RiskyScopes))
		for i, s := range r.RiskyScopes {
			names[i] = shortScope(s.Scope)
		}
		return fmt.Sprintf("OAuth grants include high-risk %s: %s.", plural(len(names), "scope", "scopes"), listSome(names, 3))
	case FlagPaidOutsideIdP:
		n := r.Evidence[collector.SourceInvoice]
		return fmt.Sprintf("Paid for (%d %s) but not in any IdP.", n, plural(int(n), "invoice or receipt", "invoices or receipts"))
	case FlagNewThisWeek:
		return fmt.Sprintf("First seen %s, within the last 7 days.", r.FirstSeen.Format(time.DateOnly))
	case FlagMultipleTenants:
		return fmt.Sprintf("%d tenants: %s.", len(r.Tenants), listSome(r.Tenants, 5))
	}
	return string(f)
}

// usageSources lists the sources showing use of the app, in Sources order.
func usageSources(ev map[collector.Source]int64) []string {
	var out []string
	for _, s := range collector.Sources() {
		if s.IsUsage() && ev[s] > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

func noSCIMWhy(id *signatures.Identity, idp string) string {
	in := insidePhrase(idp)
	if id == nil {
		return in + ", but the catalog has no identity facts for the app: offboarding is manual until SCIM support is checked."
	}
	switch id.SCIM.Supported {
	case "no":
		return in + ", but the catalog says the app has no SCIM: offboarding is manual."
	case "paused":
		return in + ", but the vendor has paused SCIM: offboarding is manual."
	case "partial":
		return in + ", but the app's SCIM cannot deactivate accounts: offboarding is manual."
	case "idp-only":
		return in + ", but the app provisions only through other IdPs' own integrations: offboarding is manual."
	}
	return in + ", but the catalog does not know whether the app has SCIM: offboarding is manual until it is checked."
}

func who(people, devices int) string {
	switch {
	case people > 0 && devices > 0:
		return fmt.Sprintf("%d %s on %d %s", people, plural(people, "person", "people"), devices, plural(devices, "device", "devices"))
	case people > 0:
		return fmt.Sprintf("%d %s", people, plural(people, "person", "people"))
	case devices > 0:
		return fmt.Sprintf("%d %s", devices, plural(devices, "device", "devices"))
	}
	return "someone"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// listSome joins up to n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// shortScope drops the Google scope prefix, which says nothing.
func shortScope(s string) string {
	return strings.TrimPrefix(s, "https://www.googleapis.com/auth/")
}
