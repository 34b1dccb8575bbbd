package entra

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testTenant   = "6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	testClientID = "0e6b1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
	testSecret   = "Qx~8Q~not-a-real-secret.abcdefghijklmn"
	testToken    = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-access-token"
)

// fakeGraph serves the Microsoft identity platform token endpoint and the
// Graph v1.0 collections the importer reads, in their real shapes:
// server-driven paging with absolute @odata.nextLink URLs, $filter and
// $orderby on sign-ins, Graph error bodies.
type fakeGraph struct {
	t   *testing.T
	srv *httptest.Server

	mu sync.Mutex
	// pageSize caps every page, below the client's $top, as Graph may.
	pageSize    int
	collections map[string][]json.RawMessage // by path after /v1.0/
	secret      string
	// fail, when set, may answer a request instead of the server:
	// collection is "signIns", "servicePrincipals", ...; n counts that
	// collection's requests, from 1.
	fail      func(w http.ResponseWriter, collection string, n int) bool
	calls     map[string]int
	filters   []string // $filter of each first sign-in request
	tokenHits int
	nextHost  string // replaces the host of next links (a hostile server)
	// jobs are the synchronization jobs of service principals, by object
	// id; others have none.
	jobs map[string]string
}

func newFakeGraph(t *testing.T) *fakeGraph {
	t.Helper()
	g := &fakeGraph{t: t, pageSize: 4, secret: testSecret, collections: map[string][]json.RawMessage{}, calls: map[string]int{},
		jobs: map[string]string{
			// Slack: Entra provisions accounts (SCIM), on a schedule.
			"11111111-aaaa-4aaa-8aaa-000000000001": `{"id":"scim.0a1b2c3d4e5f6a7b8c9d.11111111-aaaa-4aaa-8aaa-000000000001","templateId":"slack","schedule":{"expiration":null,"interval":"PT40M","state":"Active"},"status":{"code":"Active","lastSuccessfulExecution":{"activityIdentifier":"a1","countEntitled":12,"state":"Succeeded","timeBegan":"2026-11-25T11:20:00Z","timeEnded":"2026-11-25T11:21:00Z"}}}`,
			// Zoom: a job set up, then paused.
			"11111111-aaaa-4aaa-8aaa-000000000002": `{"id":"zoom.9f8e7d6c5b4a3f2e1d0c.11111111-aaaa-4aaa-8aaa-000000000002","templateId":"zoom","schedule":{"expiration":null,"interval":"PT40M","state":"Paused"},"status":{"code":"Paused"}}`,
		}}
	for name, file := range map[string]string{
		"auditLogs/signIns":      "signins.json",
		"servicePrincipals":      "servicePrincipals.json",
		"oauth2PermissionGrants": "oauth2PermissionGrants.json",
		"users":                  "users.json",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "tenant", file))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		g.collections[name] = p.Value
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGraph) set(f func(g *fakeGraph)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("request-id", "4c2b8e1a-9d3f-4e5a-b6c7-d8e9f0a1b2c3")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// graphErrorBody is Graph's error shape.
func graphErrorBody(code, message string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q,"innerError":{"date":"2026-11-25T12:00:00","request-id":"4c2b8e1a-9d3f-4e5a-b6c7-d8e9f0a1b2c3","client-request-id":"4c2b8e1a-9d3f-4e5a-b6c7-d8e9f0a1b2c3"}}}`, code, message)
}

func (g *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.URL.Path == "/"+testTenant+"/oauth2/v2.0/token" {
		g.serveToken(w, r)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	if sp, isJobs := strings.CutPrefix(name, "servicePrincipals/"); ok && isJobs && strings.HasSuffix(sp, "/synchronization/jobs") {
		g.serveJobs(w, r, strings.TrimSuffix(sp, "/synchronization/jobs"))
		return
	}
	items, known := g.collections[name]
	if !ok || !known || r.Method != http.MethodGet {
		writeJSON(w, http.StatusNotFound, graphErrorBody("Request_ResourceNotFound", "Resource not found for the segment '"+name+"'."))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeJSON(w, http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "Access token validation failure. Invalid audience."))
		return
	}
	short := name[strings.LastIndexByte(name, '/')+1:]
	g.calls[short]++
	if g.fail != nil && g.fail(w, short, g.calls[short]) {
		return
	}
	q := r.URL.Query()
	// Graph keeps the query's state in an opaque $skiptoken.
	offset, filter := 0, q.Get("$filter")
	if tok := q.Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, graphErrorBody("BadRequest", "Invalid $skiptoken."))
			return
		}
		o, f, _ := strings.Cut(string(raw), "|")
		offset, _ = strconv.Atoi(o)
		filter = f
	} else if short == "signIns" {
		g.filters = append(g.filters, filter)
	}
	if short == "signIns" {
		var err error
		if items, err = filterSignIns(items, filter); err != nil {
			writeJSON(w, http.StatusBadRequest, graphErrorBody("BadRequest", err.Error()))
			return
		}
	}
	size := g.pageSize
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < size {
		size = top
	}
	end := min(offset+size, len(items))
	body := map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + name,
		"value":          items[offset:end],
	}
	if end < len(items) {
		host := g.srv.URL
		if g.nextHost != "" {
			host = g.nextHost
		}
		tok := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end) + "|" + filter))
		body["@odata.nextLink"] = host + r.URL.Path + "?$top=" + q.Get("$top") + "&$skiptoken=" + tok
	}
	out, err := json.Marshal(body)
	if err != nil {
		g.t.Error(err)
	}
	writeJSON(w, http.StatusOK, string(out))
}

// filterSignIns applies "createdDateTime ge <time>" and sorts oldest
// first, as $orderby=createdDateTime does.
func filterSignIns(items []json.RawMessage, filter string) ([]json.RawMessage, error) {
	var from time.Time
	if filter != "" {
		v, ok := strings.CutPrefix(filter, "createdDateTime ge ")
		if !ok {
			return nil, fmt.Errorf("Invalid filter clause: %s", filter)
		}
		var err error
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, fmt.Errorf("Invalid filter clause: %s", filter)
		}
	}
	type item struct {
		t   time.Time
		raw json.RawMessage
	}
	var out []item
	for _, raw := range items {
		var s struct {
			CreatedDateTime time.Time `json:"createdDateTime"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if !s.CreatedDateTime.Before(from) {
			out = append(out, item{s.CreatedDateTime, raw})
		}
	}
	slices.SortStableFunc(out, func(a, b item) int { return a.t.Compare(b.t) })
	res := make([]json.RawMessage, len(out))
	for i, it := range out {
		res[i] = it.raw
	}
	return res, nil
}

func (g *fakeGraph) serveToken(w http.ResponseWriter, r *http.Request) {
	g.tokenHits++
	if g.fail != nil && g.fail(w, "token", g.tokenHits) {
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"AADSTS900144: The request body must contain the following parameter: 'grant_type'."}`)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "https://graph.microsoft.com/.default" {
		writeJSON(w, http.StatusBadRequest, `{"error":"invalid_scope","error_description":"AADSTS1002012: The provided value for scope is not valid."}`)
		return
	}
	if r.PostForm.Get("client_id") != testClientID {
		writeJSON(w, http.StatusBadRequest, `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 'Contoso'.","error_codes":[700016]}`)
		return
	}
	if r.PostForm.Get("client_secret") != g.secret {
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '`+testClientID+`'. Trace ID: 0f1e2d3c Correlation ID: 4b5a6978 Timestamp: 2026-11-25 12:00:00Z","error_codes":[7000215],"timestamp":"2026-11-25 12:00:00Z"}`)
		return
	}
	writeJSON(w, http.StatusOK, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"`+testToken+`"}`)
}

// serveJobs serves GET /servicePrincipals/{id}/synchronization/jobs.
func (g *fakeGraph) serveJobs(w http.ResponseWriter, r *http.Request, sp string) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeJSON(w, http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "Access token validation failure."))
		return
	}
	g.calls["jobs"]++
	if g.fail != nil && g.fail(w, "jobs", g.calls["jobs"]) {
		return
	}
	writeJSON(w, http.StatusOK, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('`+sp+`')/synchronization/jobs","value":[`+g.jobs[sp]+`]}`)
}
