package sources

import (
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/shadowmap/shadowmap/signatures"
)

// How an IdP app or OAuth client was mapped to a catalog app
// (collector.IdPApp.MappedBy).
const (
	MappedByOAuthClient = "oauth_client"
	MappedByDomain      = "domain"
	MappedByName        = "name"
	MappedByManual      = "manual"
)

// idpApps are the catalog apps that are identity providers: their own
// hosts appear in every app's sign-on URLs (acme.okta.com/app/...), so
// matching them would map every app to the IdP.
var idpApps = map[string]bool{
	"okta": true, "onelogin": true, "jumpcloud": true, "google-workspace": true,
	"microsoft-365": true, "microsoft-entra-admin-center": true, "azure-portal": true,
}

// nameNoise are words IT adds to IdP app labels that are not part of the
// app's name: "Slack - SAML", "Zoom (SSO)", "Salesforce Production".
var nameNoise = regexp.MustCompile(`(?i)\(([^)]*)\)|\b(saml2?|sso|oidc|openid|scim|swa|oauth2?|prod|production|sandbox|staging|test|app|application|login|sign[- ]?in)\b`)

// MapApp finds the catalog app behind an IdP app or an OAuth client, and
// says how: by the client id the catalog lists, by the host of one of its
// URLs, or by its name or an alias (after dropping the words IT adds to
// labels, such as "SAML" or "(Production)"). It returns "", "" when
// nothing matches; the app then stays unmapped until IT maps it.
func MapApp(c *signatures.Catalog, name string, urls []string, clientID string) (appID, how string) {
	if c == nil {
		return "", ""
	}
	if clientID != "" {
		if m := c.MatchOAuthClient(clientID, ""); m.App != nil {
			return m.App.ID, MappedByOAuthClient
		}
	}
	for _, u := range urls {
		host := hostOf(u)
		if host == "" {
			continue
		}
		m := c.MatchDomain(host)
		if m.App != nil && !idpApps[m.App.ID] {
			return m.App.ID, MappedByDomain
		}
	}
	for _, n := range []string{name, cleanLabel(name)} {
		if n == "" {
			continue
		}
		if m := c.MatchOAuthClient("", n); m.App != nil {
			return m.App.ID, MappedByName
		}
	}
	return "", ""
}

// cleanLabel drops the words IT adds to app labels and the separators
// left behind.
func cleanLabel(name string) string {
	s := nameNoise.ReplaceAllString(name, " ")
	s = strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '|', ':', '/', '–', '—':
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// hostOf returns the host of a URL, an entity id, or a bare host name;
// "" for anything else (a URN entity id, a path).
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/:") {
			return ""
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if net.ParseIP(h) != nil || !strings.Contains(h, ".") {
		return ""
	}
	return h
}
