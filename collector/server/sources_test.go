package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/signatures"
)

const revokedAdminToken = "revoked-admin-token-0123456789"

// importsServer is a real server on a real SQLite store holding importer
// runs, IdP apps and grants as of now, with running as its live progress.
func importsServer(t *testing.T, now time.Time, running func() map[string]sources.ProgressSnapshot) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	catalog, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	store := openTestStore(t, now)

	runs := []collector.SourceRun{
		{Source: "okta", StartedAt: now.Add(-2 * time.Hour), FinishedAt: now.Add(-2*time.Hour + time.Minute), Events: 1200, Imported: 800},
		{Source: "google", StartedAt: now.Add(-3 * time.Hour), FinishedAt: now.Add(-3*time.Hour + 5*time.Minute), Events: 5000, Imported: 4100},
		{Source: "google", StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-time.Hour + time.Second), Events: 0, Imported: 0,
			Error: "import google: token events page 1: HTTP 401: the credentials were refused: check that they are current"},
	}
	for _, r := range runs {
		if err := store.RecordSourceRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	seen := now.Add(-2 * time.Hour)
	okta := []collector.IdPApp{
		{IdP: "okta", ExternalID: "0oa1slack", Name: "Slack - SAML", Protocol: "saml", Provisioning: true, Active: true,
			URLs: []string{"https://acme.slack.com/sso/saml"}, AppID: "slack", MappedBy: "domain", SeenAt: seen},
		{IdP: "okta", ExternalID: "0oa2wiki", Name: "Acme Wiki", Protocol: "swa", Active: true,
			URLs: []string{"https://wiki.acme.example/login"}, SeenAt: seen},
	}
	if err := store.ReplaceIdPApps(ctx, "okta", okta, seen); err != nil {
		t.Fatal(err)
	}
	if err := store.AddIdPApps(ctx, []collector.IdPApp{{IdP: "google_workspace", ExternalID: "HR/Payroll", Name: "HR/Payroll", Protocol: "saml", Active: true, SeenAt: seen}}); err != nil {
		t.Fatal(err)
	}
	granted := now.Add(-48 * time.Hour)
	grants := []collector.OAuthGrant{
		{Provider: "google", Person: "ann@example.com", ClientID: "111-mailtool.apps.googleusercontent.com", Name: "Mail Helper",
			Scopes: []string{"https://www.googleapis.com/auth/gmail.readonly", "openid"}, GrantedAt: granted, SeenAt: granted},
		{Provider: "google", Person: "bob@example.com", ClientID: "111-mailtool.apps.googleusercontent.com", Name: "Mail Helper",
			Scopes: []string{"https://www.googleapis.com/auth/gmail.labels"}, GrantedAt: granted.Add(time.Hour), SeenAt: now.Add(-time.Hour)},
		{Provider: "google", Person: "ann@example.com", ClientID: "222-calendar.apps.googleusercontent.com", Name: "Tiny Calendar",
			Scopes: []string{"email", "profile"}, GrantedAt: granted, SeenAt: granted},
		// Known to the catalog: not a candidate.
		{Provider: "google", Person: "ann@example.com", ClientID: "333-slack.apps.googleusercontent.com", AppID: "slack", Name: "Slack",
			Scopes: []string{"email"}, GrantedAt: granted, SeenAt: granted},
	}
	if err := store.UpsertGrants(ctx, grants); err != nil {
		t.Fatal(err)
	}

	srv := New(Options{
		Catalog:     catalog,
		Stores:      store,
		Inventory:   inventory.New(catalog, store, store, inventory.Options{Clock: clock}),
		AdminTokens: []Secret{{Name: "it", Value: testAdminToken}, {Name: "old", Value: revokedAdminToken, Revoked: true}},
		Running:     running,
		Clock:       clock,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, store
}

// indentJSON re-indents a JSON answer for a golden file.
func indentJSON(t *testing.T, body []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
	return out.String() + "\n"
}

var sourcesNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestSourcesEndpoints(t *testing.T) {
	running := func() map[string]sources.ProgressSnapshot {
		return map[string]sources.ProgressSnapshot{
			"okta":    {Stage: "system log", Events: 3000, Imported: 1200, Total: 9000, Elapsed: time.Minute, Rate: 50, Left: 2 * time.Minute},
			"dnszone": {Stage: "TXT records", Events: 3, Elapsed: 2 * time.Second, Rate: 1.5},
		}
	}
	ts, _ := importsServer(t, sourcesNow, running)
	tests := []struct {
		path, golden string
	}{
		{"/api/v1/sources", "testdata/sources.golden.json"},
		{"/api/v1/idp-apps", "testdata/idp-apps.golden.json"},
		{"/api/v1/idp-apps?idp=google_workspace", "testdata/idp-apps-google.golden.json"},
		{"/api/v1/oauth-candidates", "testdata/oauth-candidates.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := call(t, http.MethodGet, ts.URL+tt.path, testAdminToken, nil)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tt.path, code, body)
			}
			golden.Check(t, tt.golden, indentJSON(t, body))
		})
	}
}

func TestSourcesEndpointsNeedAnAdminToken(t *testing.T) {
	ts, _ := importsServer(t, sourcesNow, nil)
	for _, route := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/sources"},
		{http.MethodGet, "/api/v1/idp-apps"},
		{http.MethodPut, "/api/v1/idp-apps/okta/0oa2wiki"},
		{http.MethodGet, "/api/v1/oauth-candidates"},
	} {
		for token, want := range map[string]int{"": 401, "wrong-token-0123456789": 401, revokedAdminToken: 403} {
			code, body := call(t, route.method, ts.URL+route.path, token, map[string]string{"app_id": "slack"})
			if code != want {
				t.Errorf("%s %s with %q: %d %s, want %d", route.method, route.path, token, code, body, want)
			}
		}
	}
}

func TestSourcesWithoutRunningImporters(t *testing.T) {
	ts, _ := importsServer(t, sourcesNow, nil)
	code, body := call(t, http.MethodGet, ts.URL+"/api/v1/sources", testAdminToken, nil)
	if code != http.StatusOK || strings.Contains(string(body), "running") {
		t.Errorf("GET /api/v1/sources: %d %s", code, body)
	}
}

// put sends a raw body to PUT /api/v1/idp-apps/...
func put(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

func TestMapIdPApp(t *testing.T) {
	ts, store := importsServer(t, sourcesNow, nil)
	base := ts.URL + "/api/v1/idp-apps/"
	tests := []struct {
		name, path, body string
		code             int
		want             string // in the answer
	}{
		{"map to a catalog app", "okta/0oa2wiki", `{"app_id": "notion"}`, 200, `"app_id":"notion","app_name":"Notion","mapped_by":"manual"`},
		{"remap", "okta/0oa2wiki", `{"app_id": "zoom"}`, 200, `"app_id":"zoom"`},
		{"escaped slash in the id", "google_workspace/HR%2FPayroll", `{"app_id": "slack"}`, 200, `"id":"HR/Payroll"`},
		{"clear", "okta/0oa1slack", `{"app_id": ""}`, 200, `"app_id":"","seen_at"`},
		{"unknown catalog app", "okta/0oa2wiki", `{"app_id": "no-such-app"}`, 400, `unknown app id \"no-such-app\"`},
		{"unknown idp app", "okta/0oa9none", `{"app_id": "slack"}`, 404, `no okta app \"0oa9none\"`},
		{"unknown idp", "onelogin/0oa2wiki", `{"app_id": "slack"}`, 404, `not_found`},
		{"no app_id", "okta/0oa2wiki", `{}`, 400, `give app_id`},
		{"unknown field", "okta/0oa2wiki", `{"app_id": "slack", "by": "me"}`, 400, `unknown field`},
		{"two objects", "okta/0oa2wiki", `{"app_id": "slack"} {"app_id": "zoom"}`, 400, `one JSON object`},
		{"not JSON", "okta/0oa2wiki", `app_id=slack`, 400, `bad_request`},
		{"wrong type", "okta/0oa2wiki", `{"app_id": 7}`, 400, `bad_request`},
		{"too large", "okta/0oa2wiki", `{"app_id": "` + strings.Repeat("a", 5000) + `"}`, 413, `too_large`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := put(t, base+tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("PUT %s %s = %d %s\nwant %d with %s", tt.path, tt.body, code, body, tt.code, tt.want)
			}
		})
	}

	// IT's mapping outlives the next import; a cleared one is mapped by
	// the import again.
	ctx := context.Background()
	reimport := []collector.IdPApp{
		{IdP: "okta", ExternalID: "0oa1slack", Name: "Slack - SAML", Protocol: "saml", Active: true, AppID: "slack", MappedBy: "domain", SeenAt: sourcesNow},
		{IdP: "okta", ExternalID: "0oa2wiki", Name: "Acme Wiki", Protocol: "swa", Active: true, SeenAt: sourcesNow},
	}
	if err := store.ReplaceIdPApps(ctx, "okta", reimport, sourcesNow); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, http.MethodGet, ts.URL+"/api/v1/idp-apps?idp=okta", testAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET: %d %s", code, body)
	}
	var got struct {
		IdPApps []IdPAppView `json:"idp_apps"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	mapped := map[string]string{}
	for _, a := range got.IdPApps {
		mapped[a.ID] = a.AppID + " by " + a.MappedBy
	}
	if mapped["0oa2wiki"] != "zoom by manual" || mapped["0oa1slack"] != "slack by domain" {
		t.Errorf("after a re-import: %v", mapped)
	}
}
