package web

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// appFuncs are the template helpers of the app, people, device, source and
// settings pages.
func appFuncs() template.FuncMap {
	return template.FuncMap{
		"when":       whenUTC,
		"sourceName": sourceLabel,
		"join":       strings.Join,
		"num":        anyThousands,
		"seg":        pathSegment,
		"approx":     approxMoney,
	}
}

// whenUTC writes an instant to the minute in UTC, or a dash for none.
func whenUTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// sourceLabel is how pages name an evidence source.
func sourceLabel(s collector.Source) string {
	switch s {
	case collector.SourceDNS:
		return "DNS lookup"
	case collector.SourceSNI:
		return "TLS server name"
	case collector.SourceOAuthGrant:
		return "OAuth grant"
	case collector.SourceSSOLogin:
		return "SSO sign-in"
	case collector.SourceIdPApp:
		return "IdP app"
	case collector.SourceInvoice:
		return "Invoice"
	case collector.SourceSignupEmail:
		return "Sign-up mail"
	case collector.SourceDNSTXT:
		return "DNS TXT record"
	case collector.SourceManual:
		return "Entered by IT"
	}
	return string(s)
}

// anyThousands writes any whole number with thousands separators (the
// stores count in int, int64 and uint64).
func anyThousands(n any) string {
	switch v := n.(type) {
	case int:
		return thousands(int64(v))
	case int64:
		return thousands(v)
	case uint64:
		if v > math.MaxInt64 {
			return strconv.FormatUint(v, 10)
		}
		return thousands(int64(v))
	}
	return fmt.Sprint(n)
}

// pathSegment makes an untrusted string one path segment of a link.
func pathSegment(s string) string { return url.PathEscape(s) }

// approxMoney writes an amount as people say it: "$950", "$11.7k",
// "EUR 2.3k".
func approxMoney(cents int64, currency string) string {
	prefix := currency + " "
	if currency == "USD" {
		prefix = "$"
	}
	units := float64(cents) / 100
	sign := ""
	if units < 0 {
		sign, units = "-", -units
	}
	switch {
	case units >= 1_000_000:
		return fmt.Sprintf("%s%s%sM", sign, prefix, oneDecimal(units/1_000_000))
	case units >= 1_000:
		return fmt.Sprintf("%s%s%sk", sign, prefix, oneDecimal(units/1_000))
	}
	return fmt.Sprintf("%s%s%.0f", sign, prefix, units)
}

// oneDecimal writes one decimal, dropping ".0".
func oneDecimal(v float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
}

// readinessSummary is the app page's one-line identity verdict, e.g.
// "SAML on Enterprise; no SCIM, so offboarding stays manual; about $11.7k
// a year by hand". The full next step is shown beside it.
func readinessSummary(rd inventory.Readiness) string {
	var parts []string
	switch rd.SSO {
	case "yes", "partial":
		sso := "SSO"
		if len(rd.SSOProtocols) > 0 {
			names := make([]string, len(rd.SSOProtocols))
			for i, p := range rd.SSOProtocols {
				names[i] = ssoProtocolLabel(p)
			}
			sso = strings.Join(names, " or ")
		}
		if rd.SSO == "partial" {
			sso = "partial " + sso
		}
		if rd.SSOTier != "" {
			sso += " on " + rd.SSOTier
		}
		parts = append(parts, sso)
	case "no":
		parts = append(parts, "no SSO")
	default:
		parts = append(parts, "SSO support unknown")
	}
	switch rd.SCIM {
	case "yes":
		scim := "SCIM"
		if rd.SCIMTier != "" {
			scim += " on " + rd.SCIMTier
		}
		parts = append(parts, scim)
	case "partial":
		parts = append(parts, "partial SCIM")
	case "idp-only":
		parts = append(parts, "SCIM only through some IdPs' own integrations")
	case "paused":
		parts = append(parts, "SCIM paused by the vendor, so offboarding stays manual")
	case "no":
		parts = append(parts, "no SCIM, so offboarding stays manual")
	default:
		parts = append(parts, "SCIM support unknown")
	}
	if rd.ManagedByHand && rd.ManualCost.TotalCents > 0 {
		parts = append(parts, "about "+approxMoney(rd.ManualCost.TotalCents, rd.ManualCost.Currency)+" a year by hand")
	}
	return strings.Join(parts, "; ")
}

func ssoProtocolLabel(p string) string {
	switch p {
	case "saml":
		return "SAML"
	case "oidc":
		return "OIDC"
	case "oauth":
		return "OAuth"
	case "ws-fed":
		return "WS-Fed"
	}
	return p
}
