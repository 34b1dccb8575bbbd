package config

import (
	"net/mail"
	"net/url"
	"strings"
)

// OIDC configures the optional sign-in to the web view through the
// company's identity provider (Okta, Entra ID, Google), so that the tool
// itself sits inside the IdP. Password sign-in stays available as the
// break-glass way in.
type OIDC struct {
	// Issuer is the provider's issuer URL, whose
	// /.well-known/openid-configuration the collector reads. Setting it
	// turns OIDC sign-in on.
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are the web application registered at the
	// provider.
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// ClientSecretFile is a file holding the client secret instead.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is the absolute callback URL registered at the provider:
	// where admins reach the web view, followed by /signin/oidc/callback.
	// The collector cannot tell its public address itself behind a proxy.
	RedirectURL string `yaml:"redirect_url"`
	// AllowedDomains and AllowedEmails say whose verified email may sign
	// in; at least one must be set, or every account of a public provider
	// (any Google account) would pass.
	AllowedDomains []string `yaml:"allowed_domains"`
	AllowedEmails  []string `yaml:"allowed_emails"`
	// AutoCreateAdmins makes an allowed email without an admin account an
	// admin on its first OIDC sign-in. Off by default: only existing
	// admins sign in.
	AutoCreateAdmins bool `yaml:"auto_create_admins"`
	// DisplayName names the provider on the sign-in button ("Okta").
	DisplayName string `yaml:"display_name"`
}

// OIDCCallbackPath is the web view's callback path, which redirect_url
// must end with.
const OIDCCallbackPath = "/signin/oidc/callback"

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Domains returns the allowed domains lowercased and trimmed, as the web
// view compares them.
func (o OIDC) Domains() []string { return lowerAll(o.AllowedDomains) }

// Emails returns the allowed emails lowercased and trimmed.
func (o OIDC) Emails() []string { return lowerAll(o.AllowedEmails) }

func lowerAll(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(s)))
	}
	return out
}

// validateOIDC adds the problems of the oidc section to bad.
func (c Config) validateOIDC(bad func(format string, args ...any)) {
	o := c.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.RedirectURL != "" || len(o.AllowedDomains)+len(o.AllowedEmails) > 0 {
			bad("oidc: issuer is required to turn OIDC sign-in on")
		}
		return
	}
	checkHTTPURL(bad, "oidc.issuer", o.Issuer)
	if o.ClientID == "" || o.ClientSecret == "" {
		bad("oidc: client_id and client_secret (or client_secret_file) are required with issuer")
	}
	if o.RedirectURL == "" {
		bad("oidc.redirect_url is required with issuer: the web view's address followed by %s", OIDCCallbackPath)
	} else if u, err := url.Parse(o.RedirectURL); err != nil || !strings.HasSuffix(u.Path, OIDCCallbackPath) || u.RawQuery != "" || u.Fragment != "" {
		bad("oidc.redirect_url %q: want the web view's address followed by %s", o.RedirectURL, OIDCCallbackPath)
	} else {
		checkHTTPURL(bad, "oidc.redirect_url", o.RedirectURL)
	}
	if len(o.AllowedDomains) == 0 && len(o.AllowedEmails) == 0 {
		bad("oidc: set allowed_domains or allowed_emails: without them any account of the provider could sign in")
	}
	for i, d := range o.Domains() {
		if d == "" {
			bad("oidc.allowed_domains[%d] is empty", i)
		} else if err := checkEmailDomain(d); err != nil {
			bad("oidc.allowed_domains[%d] %q: %v", i, d, err)
		}
	}
	for i, e := range o.Emails() {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || a.Name != "" {
			bad("oidc.allowed_emails[%d] %q: want a plain email address such as it@example.com", i, e)
		}
	}
	if len(o.DisplayName) > 64 {
		bad("oidc.display_name: at most 64 characters")
	}
}

// oidcSecretFile is the client secret file for readSecretFiles.
func (c *Config) oidcSecretFile() secretFile {
	return secretFile{"oidc", c.OIDC.ClientSecretFile, &c.OIDC.ClientSecret, "client_secret_file", "client_secret"}
}
