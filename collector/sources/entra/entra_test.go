package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/signatures"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// loadCatalog loads the embedded catalog once per test binary: it is
// read-only, and loading it is the slowest part of a test under -race.
var loadCatalog = sync.OnceValues(signatures.Embedded)

func catalog(t testing.TB) *signatures.Catalog {
	t.Helper()
	c, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sleeps records the backoffs the importer asked for, without waiting.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

type harness struct {
	t      *testing.T
	graph  *fakeGraph
	store  *sqlite.Store
	runner *sources.Runner
	sleeps *sleeps
	opts   Options
	cfg    config.Entra
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	g := newFakeGraph(t)
	st := openStore(t)
	h := &harness{t: t, graph: g, store: st, sleeps: &sleeps{}}
	h.runner = &sources.Runner{Stores: st, Runs: st, Catalog: catalog(t), Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return testNow }, HTTP: g.srv.Client()}
	h.opts = Options{Retry: sources.Retry{Attempts: 3, Sleep: h.sleeps.sleep}}
	h.cfg = config.Entra{TenantID: testTenant, ClientID: testClientID, ClientSecret: config.Secret(testSecret), GraphURL: g.srv.URL, LoginURL: g.srv.URL}
	return h
}

func (h *harness) run() (collector.SourceRun, error) {
	h.t.Helper()
	im, err := New(h.cfg, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.runner.Run(context.Background(), im, nil)
}

// summary is the stored state, as text for golden files and comparisons.
func summary(t testing.TB, st *sqlite.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ev, err := st.ListEvidence(ctx, collector.EvidenceFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range ev {
		lines = append(lines, fmt.Sprintf("evidence %s %s %s %s %s x%d %q", e.Day, e.Source, e.AppID, e.Person, e.DedupeKey, e.Count, e.Detail))
	}
	apps, err := st.IdPApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		lines = append(lines, fmt.Sprintf("idp_app %s %s %q protocol=%s provisioning=%v active=%v app=%s by=%s urls=%s", a.IdP, a.ExternalID, a.Name, a.Protocol, a.Provisioning, a.Active, a.AppID, a.MappedBy, strings.Join(a.URLs, ",")))
	}
	grants, err := st.CurrentGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		lines = append(lines, fmt.Sprintf("grant %s %s %s app=%s %q scopes=%s", g.Provider, g.Person, g.ClientID, g.AppID, g.Name, strings.Join(g.Scopes, " ")))
	}
	slices.Sort(lines)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func checkpoint(t testing.TB, st *sqlite.Store, key string) string {
	t.Helper()
	v, _, err := st.Checkpoint(context.Background(), Name, key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cleanSummary is what a whole import without trouble stores.
func cleanSummary(t *testing.T) string {
	t.Helper()
	h := newHarness(t)
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	return summary(t, h.store)
}

func TestImportTenant(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int // the server's
	}{{"one page", 1000}, {"pages of 4", 4}, {"pages of 1", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.graph.set(func(g *fakeGraph) { g.pageSize = tc.pageSize })
			run, err := h.run()
			if err != nil {
				t.Fatal(err)
			}
			got := summary(t, h.store)
			golden.Check(t, filepath.Join("testdata", "tenant.golden"), got)
			// 24 sign-ins, 10 service principals, 7 grants.
			if run.Events != 41 {
				t.Errorf("events = %d, want 41", run.Events)
			}
			if cp := checkpoint(t, h.store, checkpointSignIns); cp != "2026-11-24T02:43:51Z" {
				t.Errorf("sign-in checkpoint = %q", cp)
			}

			// A second run reads the overlap again and stores nothing new.
			run2, err := h.run()
			if err != nil {
				t.Fatal(err)
			}
			if run2.Imported != 0 {
				t.Errorf("rerun imported %d rows", run2.Imported)
			}
			if again := summary(t, h.store); again != got {
				t.Errorf("rerun changed the store:\n%s", again)
			}
			filters := h.graph.filters
			want := []string{"createdDateTime ge 2026-10-26T12:00:00Z", "createdDateTime ge 2026-11-24T01:43:51Z"}
			if !slices.Equal(filters, want) {
				t.Errorf("sign-in filters = %q, want %q", filters, want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	want := cleanSummary(t)
	for _, tc := range []struct {
		name      string
		fail      func(w http.ResponseWriter, collection string, n int) bool
		wantWaits []time.Duration // exact; nil: only count
		waits     int
	}{
		{"429 with Retry-After on sign-ins", func(w http.ResponseWriter, c string, n int) bool {
			if c == "signIns" && n == 2 {
				w.Header().Set("Retry-After", "7")
				writeJSON(w, http.StatusTooManyRequests, graphErrorBody("TooManyRequests", "Too many requests."))
				return true
			}
			return false
		}, []time.Duration{7 * time.Second}, 1},
		{"503 twice on service principals", func(w http.ResponseWriter, c string, n int) bool {
			if c == "servicePrincipals" && n <= 2 {
				writeJSON(w, http.StatusServiceUnavailable, graphErrorBody("serviceNotAvailable", "Service unavailable."))
				return true
			}
			return false
		}, nil, 2},
		{"500 on the token endpoint", func(w http.ResponseWriter, c string, n int) bool {
			if c == "token" && n == 1 {
				writeJSON(w, http.StatusInternalServerError, `{"error":"temporarily_unavailable","error_description":"AADSTS90033: A transient error has occurred."}`)
				return true
			}
			return false
		}, nil, 1},
		{"504 with Retry-After on grants", func(w http.ResponseWriter, c string, n int) bool {
			if c == "oauth2PermissionGrants" && n == 1 {
				w.Header().Set("Retry-After", "3")
				writeJSON(w, http.StatusGatewayTimeout, graphErrorBody("UnknownError", ""))
				return true
			}
			return false
		}, []time.Duration{3 * time.Second}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.graph.set(func(g *fakeGraph) { g.fail = tc.fail })
			if _, err := h.run(); err != nil {
				t.Fatal(err)
			}
			if got := summary(t, h.store); got != want {
				t.Errorf("store differs from a clean import:\n%s", got)
			}
			if len(h.sleeps.waits) != tc.waits {
				t.Errorf("waits = %v, want %d", h.sleeps.waits, tc.waits)
			}
			if tc.wantWaits != nil && !slices.Equal(h.sleeps.waits, tc.wantWaits) {
				t.Errorf("waits = %v, want %v", h.sleeps.waits, tc.wantWaits)
			}
		})
	}
}

func TestCredentialErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(h *harness)
		want   string
	}{
		{"wrong or expired secret", func(h *harness) { h.graph.set(func(g *fakeGraph) { g.secret = "rotated" }) }, "the client secret may have expired or be wrong"},
		{"expired secret", func(h *harness) {
			h.graph.set(func(g *fakeGraph) {
				g.fail = func(w http.ResponseWriter, c string, n int) bool {
					if c != "token" {
						return false
					}
					writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app '`+testClientID+`' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret. Trace ID: 1a2b Correlation ID: 3c4d Timestamp: 2026-11-25 12:00:00Z","error_codes":[7000222]}`)
					return true
				}
			})
		}, "the client secret has expired"},
		{"unknown client id", func(h *harness) { h.cfg.ClientID = "11111111-2222-4333-8444-555555555555" }, "the client id is not an application in this tenant"},
		{"token refused by Graph", func(h *harness) {
			h.graph.set(func(g *fakeGraph) {
				g.fail = func(w http.ResponseWriter, c string, n int) bool {
					if c != "servicePrincipals" && c != "signIns" && c != "oauth2PermissionGrants" {
						return false
					}
					writeJSON(w, http.StatusUnauthorized, graphErrorBody("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."))
					return true
				}
			})
		}, "the client secret may have expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.change(h)
			run, err := h.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(run.Error, tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks a credential: %v", err)
			}
			if len(h.sleeps.waits) != 0 {
				t.Errorf("a refusal was retried: %v", h.sleeps.waits)
			}
		})
	}
}

func TestLicenceError(t *testing.T) {
	h := newHarness(t)
	h.graph.set(func(g *fakeGraph) {
		g.fail = func(w http.ResponseWriter, c string, n int) bool {
			if c != "signIns" {
				return false
			}
			writeJSON(w, http.StatusForbidden, graphErrorBody("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license"))
			return true
		}
	})
	run, err := h.run()
	if err == nil || !IsLicenceError(err) {
		t.Fatalf("err = %v, want the licence error", err)
	}
	if !strings.Contains(run.Error, "sign-in logs need Microsoft Entra ID P1 or P2; the app list and grants are still imported") {
		t.Errorf("run error = %q", run.Error)
	}
	got := summary(t, h.store)
	if strings.Contains(got, "sso_login") {
		t.Error("sign-ins stored despite the licence error")
	}
	for _, want := range []string{"idp_app entra 3b8f1c2d-7a6e-4f5d-9c8b-1a2b3c4d5e6f", "grant microsoft alice@contoso.com", "evidence 2026-11-25 oauth_grant notion alice@contoso.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("the rest was not imported: no %q in\n%s", want, got)
		}
	}
	health, err := h.store.SourceHealth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 1 || !strings.Contains(health[0].LastError, "Entra ID P1 or P2") {
		t.Errorf("source health = %+v", health)
	}
}

func TestPermissionError(t *testing.T) {
	h := newHarness(t)
	h.graph.set(func(g *fakeGraph) {
		g.fail = func(w http.ResponseWriter, c string, n int) bool {
			if c != "servicePrincipals" {
				return false
			}
			writeJSON(w, http.StatusForbidden, graphErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
			return true
		}
	})
	_, err := h.run()
	if err == nil || !strings.Contains(err.Error(), "Application.Read.All") || IsLicenceError(err) {
		t.Fatalf("err = %v, want the permission named", err)
	}
	if !strings.Contains(err.Error(), "entra service principals page 1") {
		t.Errorf("err = %v, want the page named", err)
	}
	// Sign-ins are still imported, mapped by name and client id only.
	if got := summary(t, h.store); !strings.Contains(got, "sso_login slack alice@contoso.com") {
		t.Errorf("sign-ins not imported:\n%s", got)
	}
}

// TestResume breaks the sign-in log mid-way (a page cut short, a page
// that keeps failing), then reruns: the second run starts from the
// checkpoint, and the end state is a clean import's.
func TestResume(t *testing.T) {
	want := cleanSummary(t)
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter, c string, n int) bool
		msg  string
	}{
		{"truncated page 2", func(w http.ResponseWriter, c string, n int) bool {
			if c == "signIns" && n == 2 {
				writeJSON(w, http.StatusOK, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns","value":[{"id":"cut`)
				return true
			}
			return false
		}, "entra sign-ins page 2: decode"},
		{"page 3 keeps failing", func(w http.ResponseWriter, c string, n int) bool {
			if c == "signIns" && n >= 3 {
				writeJSON(w, http.StatusInternalServerError, graphErrorBody("UnknownError", "An internal server error occurred."))
				return true
			}
			return false
		}, "entra sign-ins page 3: gave up after 3 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.graph.set(func(g *fakeGraph) { g.fail = tc.fail })
			_, err := h.run()
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			cp := checkpoint(t, h.store, checkpointSignIns)
			if cp == "" || cp >= "2026-11-24" {
				t.Fatalf("checkpoint after the failure = %q", cp)
			}
			h.graph.set(func(g *fakeGraph) { g.fail = nil; g.calls = map[string]int{} })
			if _, err := h.run(); err != nil {
				t.Fatal(err)
			}
			if got := summary(t, h.store); got != want {
				t.Errorf("after the rerun the store differs from a clean import:\n%s", got)
			}
			filters := h.graph.filters
			if len(filters) != 2 || filters[1] <= filters[0] {
				t.Errorf("the rerun did not resume: filters %q", filters)
			}
		})
	}
}

func TestCancelledRunResumes(t *testing.T) {
	want := cleanSummary(t)
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.graph.set(func(g *fakeGraph) {
		g.fail = func(w http.ResponseWriter, c string, n int) bool {
			if c == "signIns" && n == 3 {
				cancel() // the operator stops the backfill mid-way
			}
			return false
		}
	})
	im, err := New(h.cfg, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner.Run(ctx, im, nil); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	h.graph.set(func(g *fakeGraph) { g.fail = nil })
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	if got := summary(t, h.store); got != want {
		t.Errorf("store differs from a clean import:\n%s", got)
	}
}

func TestNextLinkToAnotherHostRefused(t *testing.T) {
	h := newHarness(t)
	h.graph.set(func(g *fakeGraph) { g.nextHost = "http://198.51.100.7:8080" })
	_, err := h.run()
	if err == nil || !strings.Contains(err.Error(), "not at Microsoft Graph") {
		t.Fatalf("err = %v", err)
	}
}

func TestGrantsFollowRevocation(t *testing.T) {
	h := newHarness(t)
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	// Bob removes Notion, Carol removes everything.
	h.graph.set(func(g *fakeGraph) {
		g.collections["oauth2PermissionGrants"] = slices.DeleteFunc(slices.Clone(g.collections["oauth2PermissionGrants"]), func(raw json.RawMessage) bool {
			s := string(raw)
			return strings.Contains(s, "7c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f") || strings.Contains(s, "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
		})
	})
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	grants, err := h.store.CurrentGrants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var people []string
	for _, g := range grants {
		people = append(people, g.Person+" "+g.Name)
	}
	if !slices.Equal(people, []string{"alice@contoso.com Notion"}) {
		t.Errorf("current grants = %q", people)
	}
	if cp := checkpoint(t, h.store, checkpointGrantPeople); cp != `["alice@contoso.com"]` {
		t.Errorf("grant people checkpoint = %s", cp)
	}
}

func TestTokenRenewedWhenExpiring(t *testing.T) {
	h := newHarness(t)
	now := testNow
	h.runner.Now = func() time.Time { return now }
	h.graph.set(func(g *fakeGraph) {
		g.fail = func(w http.ResponseWriter, c string, n int) bool {
			if c == "signIns" && n == 2 {
				now = now.Add(58 * time.Minute) // the token has two minutes left
			}
			return false
		}
	})
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	if h.graph.tokenHits != 2 {
		t.Errorf("token requests = %d, want 2", h.graph.tokenHits)
	}
}

func TestNew(t *testing.T) {
	ok := config.Entra{TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: "s"}
	for _, tc := range []struct {
		name   string
		change func(c *config.Entra)
		want   string
	}{
		{"ok", func(*config.Entra) {}, ""},
		{"tenant with a slash", func(c *config.Entra) { c.TenantID = "contoso/../x" }, "tenant_id"},
		{"no secret", func(c *config.Entra) { c.ClientSecret = "" }, "client_secret"},
		{"bad graph url", func(c *config.Entra) { c.GraphURL = "ftp://x" }, "graph_url"},
		{"bad login url", func(c *config.Entra) { c.LoginURL = "::" }, "login_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			im, err := New(c, Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if im.tokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || im.Name() != "entra" {
					t.Errorf("importer = %+v", im)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(fmt.Sprint(err), "s\"") {
				t.Errorf("err shows the secret: %v", err)
			}
		})
	}
}

func TestPersonOf(t *testing.T) {
	for _, tc := range []struct {
		upn, userType, want string
	}{
		{"Alice@Contoso.com", "Member", "alice@contoso.com"},
		{" bob@contoso.com ", "", "bob@contoso.com"},
		{"eve_gmail.com#EXT#@contoso.onmicrosoft.com", "", ""},
		{"eve@gmail.com", "Guest", ""},
		{"", "", ""},
		{"no-at-sign", "", ""},
		{"a@b@c.com", "", ""},
		{"a@localhost", "", ""},
		{"a b@c.com", "", ""},
		{"@contoso.com", "", ""},
	} {
		got, ok := personOf(tc.upn, tc.userType)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("personOf(%q, %q) = %q, %v; want %q", tc.upn, tc.userType, got, ok, tc.want)
		}
	}
}

func TestProtocol(t *testing.T) {
	for mode, want := range map[string]string{"saml": "saml", "oidc": "oidc", "password": "swa", "notSupported": "", "": "", "linked": "bookmark", "integrated": ""} {
		if got := protocol(mode); got != want {
			t.Errorf("protocol(%q) = %q, want %q", mode, got, want)
		}
	}
}

func TestLogsShowNoCredentials(t *testing.T) {
	h := newHarness(t)
	var buf strings.Builder
	h.runner.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), testSecret) || strings.Contains(buf.String(), testToken) {
		t.Errorf("log shows a credential:\n%s", buf.String())
	}
}

func TestFutureSignInDoesNotMoveCheckpoint(t *testing.T) {
	h := newHarness(t)
	h.graph.set(func(g *fakeGraph) {
		g.collections["auditLogs/signIns"] = append(g.collections["auditLogs/signIns"], json.RawMessage(
			`{"id":"f0000000-0000-4000-8000-000000000001","createdDateTime":"2031-01-01T00:00:00Z","userPrincipalName":"alice@contoso.com","appId":"3b8f1c2d-7a6e-4f5d-9c8b-1a2b3c4d5e6f","appDisplayName":"Slack","status":{"errorCode":0}}`))
	})
	if _, err := h.run(); err != nil {
		t.Fatal(err)
	}
	if cp := checkpoint(t, h.store, checkpointSignIns); cp != "2026-11-24T02:43:51Z" {
		t.Errorf("checkpoint = %q", cp)
	}
}

// Graph repeats keys inside one sign-in (uniqueTokenIdentifier,
// homeTenantId...): the decoder takes the last and ignores unknown ones.
func TestDecodeSignInDuplicateKeys(t *testing.T) {
	s, err := decodeSignIn([]byte(`{"id":"1691d37b-8579-43a7-966a-0f35583c1300","createdDateTime":"2021-06-30T16:34:32Z",
		"uniqueTokenIdentifier":"ZTE0","homeTenantId":"a","userPrincipalName":"x@contoso.com","uniqueTokenIdentifier":"ZTE0",
		"homeTenantId":"b","appDisplayName":"Slack","appDisplayName":"Slack","riskEventTypes_v2":[],"status":{"errorCode":0,"errorCode":50126}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.UserPrincipalName != "x@contoso.com" || s.AppDisplayName != "Slack" || s.Status.ErrorCode != 50126 {
		t.Errorf("decoded %+v", s)
	}
}

func TestProvisioning(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      func(w http.ResponseWriter, c string, n int) bool
		want      []string // apps provisioned
		jobsCalls int
	}{
		{"read", nil, []string{"Slack"}, 4},
		{"no Synchronization.Read.All", func(w http.ResponseWriter, c string, n int) bool {
			if c == "jobs" {
				writeJSON(w, http.StatusForbidden, graphErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
				return true
			}
			return false
		}, nil, 1},
		{"one app's jobs unreadable", func(w http.ResponseWriter, c string, n int) bool {
			if c == "jobs" && n == 1 {
				writeJSON(w, http.StatusNotFound, graphErrorBody("Request_ResourceNotFound", "Resource does not exist."))
				return true
			}
			return false
		}, nil, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.graph.set(func(g *fakeGraph) { g.fail = tc.fail })
			if _, err := h.run(); err != nil {
				t.Fatal(err)
			}
			apps, err := h.store.IdPApps(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range apps {
				if a.Provisioning {
					got = append(got, a.Name)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("provisioned = %q, want %q", got, tc.want)
			}
			if n := h.graph.calls["jobs"]; n != tc.jobsCalls {
				t.Errorf("jobs calls = %d, want %d", n, tc.jobsCalls)
			}
		})
	}
}
