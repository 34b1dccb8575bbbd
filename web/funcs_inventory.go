package web

import (
	"html/template"
	"net/url"
	"strconv"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
)

// inventoryFuncs are the template helpers of the overview and the
// inventory table. They return plain strings: html/template escapes them.
func inventoryFuncs() template.FuncMap {
	return template.FuncMap{
		"flagLabel":     flagLabel,
		"warnFlag":      warnFlag,
		"statusLabel":   statusLabel,
		"idpLabel":      idpLabel,
		"sourceList":    sourceList,
		"spendText":     spendText,
		"moneyText":     moneyText,
		"scopeName":     scopeName,
		"readinessText": readinessText,
		"thousands":     func(n int) string { return thousands(int64(n)) },
		"sourceText":    sourceText,
		"commaList":     func(ss []string) string { return strings.Join(ss, ", ") },
		"appURL":        func(id string) string { return "/apps/" + url.PathEscape(id) },
		"sortCol":       sortCol,
	}
}

// flagLabel is how a flag reads in a table cell.
func flagLabel(f inventory.Flag) string {
	switch f {
	case inventory.FlagOutsideIdP:
		return "outside IdP"
	case inventory.FlagSSOAvailableNotUsed:
		return "SSO available"
	case inventory.FlagNoSCIM:
		return "no SCIM"
	case inventory.FlagRiskyOAuth:
		return "risky OAuth"
	case inventory.FlagPaidOutsideIdP:
		return "paid outside IdP"
	case inventory.FlagNewThisWeek:
		return "new this week"
	case inventory.FlagMultipleTenants:
		return "several tenants"
	}
	return string(f)
}

// warnFlag marks the flags that mean a risk rather than a chore, so the
// table can make them stand out.
func warnFlag(f inventory.Flag) bool {
	return f == inventory.FlagOutsideIdP || f == inventory.FlagRiskyOAuth || f == inventory.FlagPaidOutsideIdP
}

func statusLabel(s collector.Status) string {
	switch s {
	case collector.StatusNotPermitted:
		return "not permitted"
	case "":
		return "unreviewed"
	}
	return string(s)
}

// idpLabel names an IdP as its vendor writes it.
func idpLabel(idp string) string {
	switch idp {
	case "okta":
		return "Okta"
	case "entra":
		return "Entra"
	case "google_workspace":
		return "Google Workspace"
	case "onelogin":
		return "OneLogin"
	case "manual":
		return "marked by IT"
	case "":
		return "an IdP"
	}
	return idp
}

// sortColumn is a sortable column header of the inventory table.
type sortColumn struct {
	Label string
	sortLink
}

func sortCol(label, key string, sorts map[string]sortLink) sortColumn {
	return sortColumn{Label: label, sortLink: sorts[key]}
}

// sourceText names a source in a filter or a cell.
func sourceText(s collector.Source) string { return strings.ReplaceAll(string(s), "_", " ") }

// sourceList names the sources with evidence, in the collector's order.
func sourceList(ev map[collector.Source]int64) []string {
	var out []string
	for _, s := range collector.Sources() {
		if ev[s] > 0 {
			out = append(out, sourceText(s))
		}
	}
	return out
}

// spendText is a list of amounts, "—" when there are none.
func spendText(amounts []inventory.Money) string {
	if len(amounts) == 0 {
		return "—"
	}
	parts := make([]string, len(amounts))
	for i, m := range amounts {
		parts[i] = moneyText(m.Cents, m.Currency)
	}
	return strings.Join(parts, ", ")
}

// moneyText writes cents exactly (no floating point): "USD 1,234.05".
func moneyText(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	frac := strconv.FormatInt(cents%100, 10)
	if len(frac) == 1 {
		frac = "0" + frac
	}
	return currency + " " + sign + thousands(cents/100) + "." + frac
}

// thousands writes a whole number with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// scopeName drops the Google scope prefix, which says nothing.
func scopeName(scope string) string {
	return strings.TrimPrefix(scope, "https://www.googleapis.com/auth/")
}

// readinessText sums up SSO and SCIM support in a few words, with the
// plan tier that has them: "SSO yes (Business+) · SCIM no".
func readinessText(rd inventory.Readiness) string {
	if !rd.Known {
		return "not in the catalog"
	}
	sso := "SSO " + rd.SSO
	if rd.SSOTier != "" && rd.SSO != "no" {
		sso += " (" + rd.SSOTier + ")"
	}
	scim := "SCIM " + rd.SCIM
	if rd.SCIMTier != "" && rd.SCIM != "no" {
		scim += " (" + rd.SCIMTier + ")"
	}
	return sso + " · " + scim
}
