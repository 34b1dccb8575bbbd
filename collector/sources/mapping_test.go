package sources

import (
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/shadowmap/shadowmap/signatures"
)

// testCatalog is the embedded catalog plus testdata/catalog's apps.
func testCatalog(t *testing.T) *signatures.Catalog {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(signatures.EmbeddedFS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(signatures.EmbeddedFS(), path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	extra, err := os.ReadFile("testdata/catalog/zz-acme-expenses.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files["apps/zz-acme-expenses.yaml"] = &fstest.MapFile{Data: extra}
	c, err := signatures.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMapApp(t *testing.T) {
	c := testCatalog(t)
	tests := []struct {
		name     string
		label    string
		urls     []string
		clientID string
		wantApp  string
		wantHow  string
	}{
		{"name", "Slack", nil, "", "slack", MappedByName},
		{"label with IdP words", "Slack - SAML (Prod)", nil, "", "slack", MappedByName},
		{"label in other case and separators", "SLACK | sso", nil, "", "slack", MappedByName},
		{"domain of a sign-on URL", "Team chat", []string{"https://acme.slack.com/sso/saml"}, "", "slack", MappedByDomain},
		{"bare host", "Chat", []string{"acme.slack.com"}, "", "slack", MappedByDomain},
		{"domain wins over name", "Zoom", []string{"https://acme.slack.com/sso/saml"}, "", "slack", MappedByDomain},
		{"Okta-hosted URL is not okta", "Custom Portal", []string{"https://acme.okta.com/app/acme_customportal_1/exk1a2b3c4/sso/saml"}, "", "", ""},
		{"Okta-hosted URL, then the name", "Slack", []string{"https://acme.okta.com/app/slack/exk1/sso/saml"}, "", "slack", MappedByName},
		{"Google-hosted SAML URL is not google", "Intranet", []string{"https://accounts.google.com/o/saml2/idp?idpid=C0abc"}, "", "", ""},
		{"Entra-hosted URL is not microsoft", "Intranet", []string{"https://login.microsoftonline.com/tenant/saml2"}, "", "", ""},
		{"client id the catalog lists", "Whatever Name", nil, "123456789012-abcdefghijklmnop.apps.googleusercontent.com", "zz-acme-expenses", MappedByOAuthClient},
		{"client id without the suffix", "", nil, "123456789012-abcdefghijklmnop", "zz-acme-expenses", MappedByOAuthClient},
		{"unknown client id, known name", "Slack", nil, "999-unknown.apps.googleusercontent.com", "slack", MappedByName},
		{"unknown custom app", "Acme Internal Wiki", []string{"https://wiki.acme-corp.example/saml", "urn:acme:wiki", "/relative"}, "777-custom.apps.googleusercontent.com", "", ""},
		{"URN entity id and IP are ignored", "Acme HR", []string{"urn:amazon:webservices", "https://10.0.0.5/sso"}, "", "", ""},
		{"empty", "", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, how := MapApp(c, tt.label, tt.urls, tt.clientID)
			if app != tt.wantApp || how != tt.wantHow {
				t.Errorf("MapApp(%q, %q, %q) = %q, %q; want %q, %q", tt.label, tt.urls, tt.clientID, app, how, tt.wantApp, tt.wantHow)
			}
		})
	}
}

func TestMapAppEmbeddedClientIDs(t *testing.T) {
	// Every Google client id the shipped catalog lists maps to its app.
	c, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Apps {
		if a.OAuth == nil {
			continue
		}
		for _, id := range a.OAuth.GoogleClientIDs {
			if got, how := MapApp(c, "", nil, id); got != a.ID || how != MappedByOAuthClient {
				t.Errorf("client id %s of %s maps to %q by %q", id, a.ID, got, how)
			}
		}
	}
}

func TestMapAppNilCatalog(t *testing.T) {
	if app, how := MapApp(nil, "Slack", nil, ""); app != "" || how != "" {
		t.Errorf("MapApp(nil) = %q, %q", app, how)
	}
}

func TestCleanLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Slack - SAML (Prod)":      "Slack",
		"Zoom (SSO)":               "Zoom",
		"Salesforce Production":    "Salesforce",
		"GitHub Enterprise – OIDC": "GitHub Enterprise",
		"Notion":                   "Notion",
		"":                         "",
	} {
		if got := cleanLabel(in); got != want {
			t.Errorf("cleanLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
