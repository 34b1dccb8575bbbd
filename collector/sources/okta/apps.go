package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

// oktaApp is the part of an Okta Application object the import reads.
// Settings vary by integration, so they are read loosely: a field of an
// unexpected type is ignored, not an error.
type oktaApp struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Label      string   `json:"label"`
	Status     string   `json:"status"`
	SignOnMode string   `json:"signOnMode"`
	Features   []string `json:"features"`
	Settings   struct {
		App         map[string]any `json:"app"`
		SignOn      map[string]any `json:"signOn"`
		OAuthClient map[string]any `json:"oauthClient"`
	} `json:"settings"`
}

// DecodeApp reads one Okta Application object. ok is false for Okta's
// own apps (its dashboard, admin console, browser plugin, Workflows),
// which are not the company's SaaS.
func DecodeApp(raw []byte, c *signatures.Catalog) (app collector.IdPApp, ok bool, err error) {
	var a oktaApp
	if err := json.Unmarshal(raw, &a); err != nil {
		return collector.IdPApp{}, false, err
	}
	if a.ID == "" {
		return collector.IdPApp{}, false, fmt.Errorf("app without an id")
	}
	if oktaOwnApp(a.Name) {
		return collector.IdPApp{}, false, nil
	}
	app = collector.IdPApp{
		IdP:          Name,
		ExternalID:   a.ID,
		Name:         a.Label,
		Protocol:     protocolOf(a.SignOnMode),
		Provisioning: provisions(a.Features),
		Active:       strings.EqualFold(a.Status, "ACTIVE"),
		URLs:         appURLs(&a),
	}
	if app.Name == "" {
		app.Name = a.Name
	}
	app.AppID, app.MappedBy = mapOktaApp(c, a.Label, a.Name, app.URLs)
	return app, true, nil
}

// oktaOwnApp tells Okta's built-in apps by their integration name:
// saasure is the admin console; okta_enduser, okta_browser_plugin,
// okta_flow_sso and the rest of okta_* are Okta's own.
func oktaOwnApp(name string) bool {
	n := strings.ToLower(name)
	return n == "saasure" || n == "flow" || strings.HasPrefix(n, "okta_")
}

// protocolOf maps Okta's signOnMode (or the System Log's spelling of
// it, "SAML 2.0", "OpenID Connect") to collector.IdPApp.Protocol.
func protocolOf(mode string) string {
	m := strings.ToUpper(strings.TrimSpace(mode))
	m = strings.NewReplacer(" ", "_", ".", "_", "-", "_").Replace(m)
	switch m {
	case "SAML_2_0", "SAML_1_1", "SAML2", "SAML":
		return "saml"
	case "OPENID_CONNECT", "OIDC":
		return "oidc"
	case "BROWSER_PLUGIN", "AUTO_LOGIN", "BASIC_AUTH", "SECURE_PASSWORD_STORE", "SWA":
		return "swa"
	case "WS_FEDERATION", "WS_FED":
		return "ws_fed"
	case "BOOKMARK":
		return "bookmark"
	}
	return ""
}

// provisions reports whether the app's features push accounts from Okta
// into the app. Import-only features do not: they read the app.
func provisions(features []string) bool {
	for _, f := range features {
		f = strings.ToUpper(f)
		if strings.HasPrefix(f, "PUSH_") || f == "GROUP_PUSH" {
			return true
		}
	}
	return false
}

// urlKeys are the settings that hold the app's own URLs: SAML endpoints
// and entity ids, OIDC redirect and login URIs.
var urlKeys = []string{
	"ssoAcsUrl", "recipient", "destination", "audience", "defaultRelayState", "ssoAcsUrlOverride", "audienceOverride", "recipientOverride", "destinationOverride",
	"redirect_uris", "initiate_login_uri", "client_uri", "post_logout_redirect_uris",
}

// maxAppURLs bounds the URLs kept per app.
const maxAppURLs = 20

// appURLs collects an app's URLs: every http(s) URL among settings.app
// (SWA and bookmark apps keep their URL there, template apps a base URL),
// and the SAML and OIDC endpoints. Order is stable; duplicates dropped.
func appURLs(a *oktaApp) []string {
	seen := map[string]bool{}
	var urls []string
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case string:
			v = strings.TrimSpace(v)
			if len(urls) < maxAppURLs && !seen[v] && isHTTPURL(v) {
				seen[v] = true
				urls = append(urls, v)
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					add(s)
				}
			}
		}
	}
	keys := make([]string, 0, len(a.Settings.App))
	for k := range a.Settings.App {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(a.Settings.App[k])
	}
	for _, k := range urlKeys {
		add(a.Settings.SignOn[k])
		add(a.Settings.OAuthClient[k])
	}
	return urls
}

func isHTTPURL(s string) bool {
	if len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// integrationNames maps Okta integration names (OIN keys) that do not
// read as the app's name to a name the catalog knows.
var integrationNames = map[string]string{
	"zoomus":               "Zoom",
	"office365":            "Microsoft 365",
	"google":               "Google Workspace",
	"amazon_aws":           "AWS",
	"amazon_aws_sso":       "AWS",
	"boxnet":               "Box",
	"dropbox_for_business": "Dropbox",
}

// mapOktaApp finds the catalog app of an Okta app: by its label and URLs
// first (what IT named it, where it points), then by Okta's integration
// name, which names the vendor even when the label is "Sales CRM".
// Generic integration names (a custom SAML app's "acme_crm_1", "oidc_client",
// "bookmark", "template_swa") match nothing in the catalog.
func mapOktaApp(c *signatures.Catalog, label, name string, urls []string) (appID, how string) {
	if id, how := sources.MapApp(c, label, urls, ""); id != "" {
		return id, how
	}
	n := strings.ToLower(strings.TrimSpace(name))
	if alias, ok := integrationNames[n]; ok {
		n = alias
	}
	if n == "" {
		return "", ""
	}
	return sources.MapApp(c, n, nil, "")
}

// importApps reads the whole app list and makes it Okta's IdP app list.
// The store's list changes only after every page is read, so a failed
// run never leaves half a list. It returns the apps by Okta app id, with
// IT's manual mappings, for mapping sign-in events.
func (im *Importer) importApps(ctx context.Context, env *sources.Env) (map[string]collector.IdPApp, error) {
	env.Progress.SetStage("okta apps")
	q := url.Values{"limit": {strconv.Itoa(im.opts.AppPageSize)}}
	u := im.endpoint("/api/v1/apps", q)
	var apps []collector.IdPApp
	at := env.Now().UTC()
	err := im.eachPage(ctx, env, "okta apps", u, func(_ int, raws []json.RawMessage) error {
		for _, raw := range raws {
			env.Progress.AddEvents(1)
			app, ok, err := DecodeApp(raw, env.Catalog)
			if err != nil {
				// One app's settings Okta changed shape of must not
				// drop the whole list, nor remove the app: a list
				// without it would. So the list is refused.
				return err
			}
			if ok {
				app.SeenAt = at
				apps = append(apps, app)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := env.Stores.ReplaceIdPApps(ctx, Name, apps, at); err != nil {
		return nil, fmt.Errorf("okta apps: store: %w", err)
	}
	byID := make(map[string]collector.IdPApp, len(apps))
	for _, a := range apps {
		byID[a.ExternalID] = a
	}
	// The store keeps IT's manual mappings over the import's; read them
	// back so sign-ins count for the app IT chose.
	if r, ok := env.Stores.(idpAppReader); ok {
		stored, err := r.IdPApps(ctx)
		if err != nil {
			return nil, fmt.Errorf("okta apps: read back: %w", err)
		}
		for _, a := range stored {
			if a.IdP == Name && a.MappedBy == sources.MappedByManual {
				if cur, ok := byID[a.ExternalID]; ok {
					cur.AppID, cur.MappedBy = a.AppID, a.MappedBy
					byID[a.ExternalID] = cur
				}
			}
		}
	}
	env.Log.Info("okta apps read", "apps", len(apps))
	return byID, nil
}
