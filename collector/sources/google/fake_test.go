package google

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
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

	"golang.org/x/oauth2/jws"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// testNow is the tests' clock: the fixtures' events fall in the 10 days
// before it.
var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const (
	testAdmin       = "it-admin@acme.example"
	testAccessToken = "ya29.a0AfB_test-access-token"
	testClientEmail = "shadowmap-importer@acme-it.iam.gserviceaccount.com"
)

var catalog = sync.OnceValues(signatures.Embedded)

func testCatalog(t testing.TB) *signatures.Catalog {
	t.Helper()
	c, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawActivity is a fixture activity, served byte for byte as written (with
// its duplicate keys and intValue strings), and what the fake filters by.
type rawActivity struct {
	raw   json.RawMessage
	when  time.Time
	names []string
}

// fakeGoogle serves Google's OAuth token endpoint and the Admin SDK paths
// the importer reads, from the testdata/api fixtures.
type fakeGoogle struct {
	t          testing.TB
	srv        *httptest.Server
	key        *rsa.PrivateKey
	activities map[string][]rawActivity // by applicationName
	users      []json.RawMessage
	// pageSize is the fake's page size, small so paging is exercised.
	pageSize int

	mu sync.Mutex
	// hook, when set, may answer a request itself (returns true). n counts
	// the Admin SDK requests so far, from 1.
	hook     func(w http.ResponseWriter, r *http.Request, n int) bool
	n        int
	tokenErr string // an OAuth error code the token endpoint answers with
	tokens   int    // access tokens issued
	paths    []string
}

func newFakeGoogle(t testing.TB) *fakeGoogle {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGoogle{t: t, key: key, activities: map[string][]rawActivity{}, pageSize: 2}
	for app, file := range map[string]string{"token": "token_activities.json", "saml": "saml_activities.json"} {
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		readJSON(t, filepath.Join("testdata", "api", file), &page)
		for _, raw := range page.Items {
			var head struct {
				ID struct {
					Time string `json:"time"`
				} `json:"id"`
				Events []struct {
					Name string `json:"name"`
				} `json:"events"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				t.Fatal(err)
			}
			when, err := time.Parse(time.RFC3339Nano, head.ID.Time)
			if err != nil {
				t.Fatal(err)
			}
			ra := rawActivity{raw: raw, when: when}
			for _, e := range head.Events {
				ra.names = append(ra.names, e.Name)
			}
			f.activities[app] = append(f.activities[app], ra)
		}
		// Google answers newest first.
		slices.SortFunc(f.activities[app], func(a, b rawActivity) int { return b.when.Compare(a.when) })
	}
	var users struct {
		Users []json.RawMessage `json:"users"`
	}
	readJSON(t, filepath.Join("testdata", "api", "users.json"), &users)
	f.users = users.Users
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// keyFile writes a service account key whose token_uri is the fake.
func (f *fakeGoogle) keyFile(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]string{
		"type":                        "service_account",
		"project_id":                  "acme-it",
		"private_key_id":              "3f1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f",
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                testClientEmail,
		"client_id":                   "118273645501928374650",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   f.srv.URL + "/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/shadowmap-importer%40acme-it.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}
	data, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fakeGoogle) config(t testing.TB) config.Google {
	return config.Google{CredentialsFile: f.keyFile(t), AdminEmail: testAdmin, Customer: "my_customer", Backfill: 10 * 24 * time.Hour, Endpoint: f.srv.URL}
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"errors":[{"message":%q,"domain":"global","reason":%q}]}}`, status, msg, msg, reason)
}

func (f *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	f.mu.Lock()
	f.n++
	n, hook := f.n, f.hook
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testAccessToken {
		writeError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
		return
	}
	if hook != nil && hook(w, r, n) {
		return
	}
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(r.URL.Path, "/admin/reports/v1/activity/users/all/applications/"):
		app := strings.TrimPrefix(r.URL.Path, "/admin/reports/v1/activity/users/all/applications/")
		start, err1 := time.Parse(time.RFC3339Nano, q.Get("startTime"))
		end, err2 := time.Parse(time.RFC3339Nano, q.Get("endTime"))
		if err1 != nil || err2 != nil || !end.After(start) {
			writeError(w, http.StatusBadRequest, "invalid", "Bad startTime or endTime")
			return
		}
		var items []json.RawMessage
		for _, a := range f.activities[app] {
			if !a.when.Before(start) && a.when.Before(end) && slices.Contains(a.names, q.Get("eventName")) {
				items = append(items, a.raw)
			}
		}
		page, next := f.page(items, q.Get("pageToken"))
		writeJSON(w, map[string]any{"kind": "admin#reports#activities", "etag": `"fake"`, "items": page, "nextPageToken": next})
	case r.URL.Path == "/admin/directory/v1/users":
		if q.Get("customer") != "my_customer" {
			writeError(w, http.StatusBadRequest, "invalid", "Invalid Input: customer")
			return
		}
		page, next := f.page(f.users, q.Get("pageToken"))
		writeJSON(w, map[string]any{"kind": "admin#directory#users", "etag": `"fake"`, "users": page, "nextPageToken": next})
	case strings.HasPrefix(r.URL.Path, "/admin/directory/v1/users/") && strings.HasSuffix(r.URL.Path, "/tokens"):
		user := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/admin/directory/v1/users/"), "/tokens")
		data, err := os.ReadFile(filepath.Join("testdata", "api", "tokens", filepath.Base(user)+".json"))
		if err != nil {
			writeError(w, http.StatusNotFound, "notFound", "Resource Not Found: userKey")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(data)
	default:
		writeError(w, http.StatusNotFound, "notFound", "Not Found")
	}
}

// page cuts items at the page token, an offset.
func (f *fakeGoogle) page(items []json.RawMessage, token string) ([]json.RawMessage, string) {
	off, _ := strconv.Atoi(token)
	off = min(off, len(items))
	end := min(off+f.pageSize, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[off:end], next
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// serveToken is Google's token endpoint for the JWT bearer grant: it
// checks the assertion's signature, subject, audience and scopes.
func (f *fakeGoogle) serveToken(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail("unsupported_grant_type", "Invalid grant_type")
		return
	}
	assertion := r.PostForm.Get("assertion")
	if err := jws.Verify(assertion, &f.key.PublicKey); err != nil {
		fail("invalid_grant", "Invalid JWT Signature.")
		return
	}
	claims, err := jws.Decode(assertion)
	if err != nil {
		fail("invalid_grant", "Invalid JWT")
		return
	}
	f.mu.Lock()
	tokenErr := f.tokenErr
	f.mu.Unlock()
	switch {
	case tokenErr != "":
		fail(tokenErr, "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	case claims.Sub != testAdmin, claims.Iss != testClientEmail, claims.Aud != f.srv.URL+"/token":
		fail("invalid_grant", "Invalid email or User ID")
		return
	}
	for _, s := range RequiredScopes() {
		if !slices.Contains(strings.Fields(claims.Scope), s) {
			fail("unauthorized_client", "scope missing: "+s)
			return
		}
	}
	f.mu.Lock()
	f.tokens++
	f.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": testAccessToken, "token_type": "Bearer", "expires_in": 3599})
}

func (f *fakeGoogle) setHook(h func(w http.ResponseWriter, r *http.Request, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook, f.n = h, 0
}

// sleeps records the waits of a retry, so tests never wait.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) retry() sources.Retry {
	return sources.Retry{Attempts: 3, Sleep: func(ctx context.Context, d time.Duration) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.waits = append(s.waits, d)
		return ctx.Err()
	}}
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runImport runs imp the way `shadowmap import` does, with source health.
func runImport(t testing.TB, st *sqlite.Store, imp sources.Importer) (collector.SourceRun, error) {
	t.Helper()
	r := &sources.Runner{Stores: st, Runs: st, Catalog: testCatalog(t), Now: func() time.Time { return testNow }, HTTP: &http.Client{Timeout: 10 * time.Second}}
	return r.Run(context.Background(), imp, nil)
}

// dump is the store's content after an import, as text for golden files.
func dump(t testing.TB, st *sqlite.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ev, err := st.ListEvidence(ctx, collector.EvidenceFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ev, func(x, y collector.Evidence) int { return strings.Compare(x.DedupeKey, y.DedupeKey) })
	b.WriteString("# evidence\n")
	for _, e := range ev {
		fmt.Fprintf(&b, "%s app=%s person=%s day=%s count=%d first=%s detail=%q\n  key=%s\n", e.Source, e.AppID, e.Person, e.Day, e.Count, e.FirstSeen.UTC().Format(time.RFC3339Nano), e.Detail, e.DedupeKey)
	}
	grants, err := st.CurrentGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("# current grants\n")
	for _, g := range grants {
		fmt.Fprintf(&b, "%s %s app=%q name=%q granted=%s seen=%s\n  client=%s\n  scopes=%s\n", g.Provider, g.Person, g.AppID, g.Name, g.GrantedAt.UTC().Format(time.RFC3339), g.SeenAt.UTC().Format(time.RFC3339), g.ClientID, strings.Join(g.Scopes, " "))
	}
	cands, err := st.OAuthCandidates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("# candidate apps\n")
	for _, c := range cands {
		fmt.Fprintf(&b, "%s %q people=%d client=%s scopes=%s\n", c.Provider, c.Name, c.People, c.ClientID, strings.Join(c.Scopes, " "))
	}
	apps, err := st.IdPApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("# idp apps\n")
	for _, a := range apps {
		fmt.Fprintf(&b, "%s %q protocol=%s active=%v app=%q mapped_by=%q seen=%s\n", a.IdP, a.ExternalID, a.Protocol, a.Active, a.AppID, a.MappedBy, a.SeenAt.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
