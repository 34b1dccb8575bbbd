package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector/service"
)

// fixture reads a file of the test company.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "company", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeOkta serves the test company's Okta org: its app list and one
// day of System Log, behind an SSWS token.
func fakeOkta(t *testing.T, token string) *httptest.Server {
	apps, logs := fixture(t, "okta-apps.json"), fixture(t, "okta-logs.json")
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "SSWS "+token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/apps":
			w.Write(apps)
		case "/api/v1/logs":
			w.Write(logs)
		default:
			http.NotFound(w, r)
		}
	}))
}

// fakeEntra serves the token endpoint and the Graph paths the Entra
// importer reads, for one enterprise app and one sign-in.
func fakeEntra(t *testing.T, tenant, secret string) *httptest.Server {
	sps, signins := fixture(t, "entra-service-principals.json"), fixture(t, "entra-signins.json")
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/"+tenant+"/oauth2/v2.0/token" {
			if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != secret {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
				return
			}
			io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"graph-token"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer graph-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch path := r.URL.Path; {
		case path == "/v1.0/servicePrincipals":
			w.Write(sps)
		case path == "/v1.0/auditLogs/signIns":
			w.Write(signins)
		case path == "/v1.0/oauth2PermissionGrants", path == "/v1.0/users":
			io.WriteString(w, `{"value": []}`)
		case strings.HasSuffix(path, "/synchronization/jobs"):
			io.WriteString(w, `{"value": []}`)
		default:
			http.NotFound(w, r)
		}
	}))
}

// TestCompanyInventory imports a small company through its real sources
// (Okta and Entra over their APIs, Google Workspace from exported files)
// with `shadowmap import`, then reads the collector's inventory: apps
// mapped from each IdP are inside it, an app people granted Drive access
// over OAuth is flagged as a risky grant outside the IdP, an OAuth client
// the catalog does not know is a candidate, and source health lists every
// source.
func TestCompanyInventory(t *testing.T) {
	dir := t.TempDir()
	okta := fakeOkta(t, "okta-token-0123456789")
	defer okta.Close()
	entra := fakeEntra(t, "acme-tenant", "entra-secret-0123456789")
	defer entra.Close()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgFile := write("shadowmap.yaml", `database: `+filepath.Join(dir, "shadowmap.db")+`
enroll_secrets: [{name: e2e, secret: `+enrollSecret+`}]
admin_tokens: [{name: e2e, token: `+adminToken+`}]
sources:
  okta:
    url: `+okta.URL+`
    token_file: `+write("okta-token", "okta-token-0123456789\n")+`
  entra:
    tenant_id: acme-tenant
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret_file: `+write("entra-secret", "entra-secret-0123456789\n")+`
    graph_url: `+entra.URL+`
    login_url: `+entra.URL+`
`)
	imports := [][]string{
		{"okta"},
		{"entra"},
		{"--file", filepath.Join("testdata", "company", "google-token-activities.json"),
			"--file", filepath.Join("testdata", "company", "google-saml-activities.json"), "google"},
	}
	for _, args := range imports {
		var stdout, stderr strings.Builder
		if err := service.ImportCommand(&stdout, &stderr, nil).Run(append([]string{"--config", cfgFile}, args...)); err != nil {
			t.Fatalf("import %v: %v\n%s", args, err, stderr.String())
		}
	}

	url := serveConfigFile(t, cfgFile)
	get := func(path string, out any) {
		t.Helper()
		resp := adminGet(t, url, path)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}

	type app struct {
		ID        string `json:"id"`
		People    int    `json:"people"`
		InsideIdP bool   `json:"inside_idp"`
		IdP       string `json:"idp"`
		Flags     []struct {
			Flag string `json:"flag"`
		} `json:"flags"`
	}
	var page struct {
		Apps []app `json:"apps"`
	}
	get("/api/v1/apps?limit=1000", &page)
	apps := map[string]app{}
	for _, a := range page.Apps {
		apps[a.ID] = a
	}
	flags := func(a app) []string {
		var out []string
		for _, f := range a.Flags {
			out = append(out, f.Flag)
		}
		return out
	}
	for id, idp := range map[string]string{"slack": "okta", "salesforce": "entra", "figma": "google_workspace"} {
		a, ok := apps[id]
		if !ok || !a.InsideIdP || a.IdP != idp || a.People != 1 {
			t.Errorf("%s should be inside %s with its one user: %+v", id, idp, a)
		}
		if slices.Contains(flags(a), "outside_idp") {
			t.Errorf("%s is inside %s but flagged outside_idp", id, idp)
		}
	}
	zapier, ok := apps["zapier"]
	if !ok || zapier.InsideIdP || !slices.Contains(flags(zapier), "risky_oauth") || !slices.Contains(flags(zapier), "outside_idp") {
		t.Errorf("zapier, granted Drive over OAuth and in no IdP, should be flagged risky_oauth and outside_idp: %+v", zapier)
	}

	var cands struct {
		Candidates []struct {
			ClientID string `json:"client_id"`
			Name     string `json:"name"`
			People   int    `json:"people"`
		} `json:"candidates"`
	}
	get("/api/v1/oauth-candidates", &cands)
	if len(cands.Candidates) != 1 || cands.Candidates[0].Name != "Acme Expense Helper" || cands.Candidates[0].People != 1 {
		t.Errorf("oauth candidates: %+v", cands.Candidates)
	}

	var health struct {
		Sources []struct {
			Source    string `json:"source"`
			LastError string `json:"last_error"`
		} `json:"sources"`
	}
	get("/api/v1/sources", &health)
	var names []string
	for _, s := range health.Sources {
		names = append(names, s.Source)
		if s.LastError != "" {
			t.Errorf("source %s failed: %s", s.Source, s.LastError)
		}
	}
	if !slices.Equal(names, []string{"entra", "google", "okta"}) {
		t.Errorf("source health lists %v", names)
	}
}
