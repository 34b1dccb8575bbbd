package okta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sort"
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

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// sleeps records the waits the importer asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type harness struct {
	t      *testing.T
	fake   *fakeOkta
	store  *sqlite.Store
	cat    *signatures.Catalog
	sleeps *sleeps
	imp    *Importer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: newFakeOkta(t, testNow), store: st, cat: cat, sleeps: &sleeps{}}
	h.imp = h.importer(testToken)
	return h
}

func (h *harness) importer(token string) *Importer {
	h.t.Helper()
	imp, err := New(config.Okta{URL: h.fake.srv.URL, Token: config.Secret(token), Backfill: config.DefaultOktaBackfill},
		Options{Retry: sources.Retry{Sleep: h.sleeps.sleep}, LogPageSize: 4, AppPageSize: 5})
	if err != nil {
		h.t.Fatal(err)
	}
	return imp
}

// run imports once through the Runner, as `shadowmap import okta` does.
func (h *harness) run(imp *Importer) (collector.SourceRun, error) {
	r := &sources.Runner{Stores: h.store, Runs: h.store, Catalog: h.cat, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return testNow }, HTTP: h.fake.srv.Client()}
	return r.Run(context.Background(), imp, nil)
}

func (h *harness) evidence() string {
	h.t.Helper()
	ev, err := h.store.ListEvidence(context.Background(), collector.EvidenceFilter{Source: collector.SourceSSOLogin, Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	lines := make([]string, 0, len(ev))
	for _, e := range ev {
		lines = append(lines, fmt.Sprintf("%s %-12s %-20s %s count=%d first=%s %q %s", e.Day, e.AppID, e.Person, e.Source, e.Count,
			e.FirstSeen.UTC().Format(time.RFC3339Nano), e.Detail, e.DedupeKey))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (h *harness) idpApps() string {
	h.t.Helper()
	apps, err := h.store.IdPApps(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, a := range apps {
		lines = append(lines, fmt.Sprintf("%s %s %q protocol=%s active=%t provisioning=%t app=%s by=%s urls=%v",
			a.IdP, a.ExternalID, a.Name, a.Protocol, a.Active, a.Provisioning, a.AppID, a.MappedBy, a.URLs))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (h *harness) checkpoint() string {
	h.t.Helper()
	v, _, err := h.store.Checkpoint(context.Background(), Name, checkpointKey)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

const lastCheckpoint = `{"published":"2026-11-19T10:30:00Z","uuids":["1a0c7f10-c4b1-11f0-9a01-0b1c2d3e4f13"]}`

func TestImportPagesAndRerun(t *testing.T) {
	h := newHarness(t)
	run, err := h.run(h.imp)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/evidence.golden", h.evidence())
	golden.Check(t, "testdata/idp_apps.golden", h.idpApps())
	// 12 log events in the window (4+4+4, then an empty page) and 12 apps.
	if run.Events != 24 || run.Imported != 9 || run.Error != "" {
		t.Errorf("run = %+v, want 24 events, 9 imported", run)
	}
	if got := h.fake.count("/api/v1/logs"); got != 4 {
		t.Errorf("log pages fetched = %d, want 4 (3 full, 1 empty)", got)
	}
	if got := h.fake.count("/api/v1/apps"); got != 3 {
		t.Errorf("app pages fetched = %d, want 3", got)
	}
	q := h.fake.logQueries()[0]
	if q.Get("since") != "2026-08-22T12:01:00.000Z" || q.Get("until") != "2026-11-20T12:00:00.000Z" || q.Get("limit") != "4" {
		t.Errorf("first query = %v", q)
	}
	if got := h.checkpoint(); got != lastCheckpoint {
		t.Errorf("checkpoint = %s, want %s", got, lastCheckpoint)
	}

	// A second run asks from the checkpoint and stores nothing new.
	before := h.evidence()
	run, err = h.run(h.imp)
	if err != nil {
		t.Fatal(err)
	}
	if run.Imported != 0 {
		t.Errorf("rerun imported %d, want 0", run.Imported)
	}
	qs := h.fake.logQueries()
	if got := qs[len(qs)-1].Get("since"); got != "2026-11-19T10:30:00.000Z" {
		t.Errorf("rerun since = %s", got)
	}
	if h.evidence() != before {
		t.Error("rerun changed the evidence")
	}
	if got := h.checkpoint(); got != lastCheckpoint {
		t.Errorf("checkpoint after rerun = %s", got)
	}
	health, err := h.store.SourceHealth(context.Background())
	if err != nil || len(health) != 1 || health[0].Runs != 2 || health[0].TotalImported != 9 || health[0].LastError != "" {
		t.Errorf("source health = %+v, %v", health, err)
	}
}

// failPage answers the nth request to path with fail, once.
func failPage(path string, nth int, fail func(w http.ResponseWriter)) func(w http.ResponseWriter, r *http.Request, n int) bool {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != path || n != nth {
			return false
		}
		fail(w)
		return true
	}
}

func TestInterruptedRunResumes(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter)
		want string
	}{
		{"truncated page", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `[{"uuid":"1a0c7f10-c4b1-11f0-9a01-0b1c2d3e4f09","published":"2026-11-19T08:00:00.000Z","eventType":"user.authentica`)
		}, "okta system log page 3: decode"},
		{"forbidden", func(w http.ResponseWriter) {
			oktaError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		}, "okta system log page 3: HTTP 403: the API token's administrator lacks a permission: the import needs the Read-Only Administrator role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.hook = failPage("/api/v1/logs", 3, tc.fail)
			run, err := h.run(h.imp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !strings.Contains(run.Error, tc.want) {
				t.Errorf("run error = %q", run.Error)
			}
			// Pages 1 and 2 are stored, and the checkpoint is the last
			// event of page 2 (two events share its time).
			want := `{"published":"2026-11-19T08:00:00Z","uuids":["1a0c7f10-c4b1-11f0-9a01-0b1c2d3e4f08"]}`
			if got := h.checkpoint(); got != want {
				t.Errorf("checkpoint = %s, want %s", got, want)
			}
			if run.Imported != 5 {
				t.Errorf("imported %d before the failure, want 5", run.Imported)
			}

			h.fake.mu.Lock()
			h.fake.hook = nil
			h.fake.mu.Unlock()
			run, err = h.run(h.imp)
			if err != nil {
				t.Fatal(err)
			}
			if run.Imported != 4 {
				t.Errorf("resumed run imported %d, want 4", run.Imported)
			}
			golden.Check(t, "testdata/evidence.golden", h.evidence())
			if got := h.checkpoint(); got != lastCheckpoint {
				t.Errorf("checkpoint = %s", got)
			}
		})
	}
}

func TestRetriesAndRateLimits(t *testing.T) {
	t.Run("429 with Retry-After", func(t *testing.T) {
		h := newHarness(t)
		h.fake.hook = failPage("/api/v1/logs", 2, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			oktaError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		})
		if _, err := h.run(h.imp); err != nil {
			t.Fatal(err)
		}
		if got := h.sleeps.all(); len(got) != 1 || got[0] != 7*time.Second {
			t.Errorf("sleeps = %v, want [7s]", got)
		}
		golden.Check(t, "testdata/evidence.golden", h.evidence())
	})
	t.Run("5xx then success", func(t *testing.T) {
		h := newHarness(t)
		h.fake.hook = failPage("/api/v1/apps", 1, func(w http.ResponseWriter) {
			oktaError(w, http.StatusServiceUnavailable, "E0000009", "Internal Server Error")
		})
		if _, err := h.run(h.imp); err != nil {
			t.Fatal(err)
		}
		if got := h.sleeps.all(); len(got) != 1 {
			t.Errorf("sleeps = %v, want one backoff", got)
		}
		golden.Check(t, "testdata/idp_apps.golden", h.idpApps())
	})
	t.Run("rate limit nearly spent", func(t *testing.T) {
		h := newHarness(t)
		h.fake.remaining = 5 // of 120: under the 10% left for others
		if _, err := h.run(h.imp); err != nil {
			t.Fatal(err)
		}
		got := h.sleeps.all()
		// One wait before each further page: 2 of 3 app pages, 3 of 4
		// log pages; each until the reset 30s after the server's Date,
		// plus a second.
		if len(got) != 5 {
			t.Fatalf("sleeps = %v, want 5", got)
		}
		for _, d := range got {
			if d != 31*time.Second {
				t.Errorf("wait %v, want 31s", d)
			}
		}
		golden.Check(t, "testdata/evidence.golden", h.evidence())
	})
}

func TestAuthErrors(t *testing.T) {
	t.Run("expired token", func(t *testing.T) {
		h := newHarness(t)
		imp := h.importer("expired-token-value")
		run, err := h.run(imp)
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		for _, want := range []string{"okta apps page 1", "HTTP 401", "invalid, revoked or expired", "E0000011"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, "expired-token-value") || strings.Contains(run.Error, "expired-token-value") {
			t.Error("the token leaked into the error")
		}
		if h.fake.count("/api/v1/logs") != 0 {
			t.Error("the System Log was asked with a refused token")
		}
		var ae *sources.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("err = %#v, want an APIError 401", err)
		}
	})
	t.Run("apps forbidden, log still read", func(t *testing.T) {
		h := newHarness(t)
		h.fake.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
			if r.URL.Path != "/api/v1/apps" {
				return false
			}
			oktaError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return true
		}
		_, err := h.run(h.imp)
		if err == nil || !strings.Contains(err.Error(), "okta apps page 1: HTTP 403") || !strings.Contains(err.Error(), "Read-Only Administrator") {
			t.Fatalf("err = %v", err)
		}
		// Without the app list, sign-ins map by the app's name: Slack,
		// GitHub, Zoom and Jira do; "Video calls" and the custom app
		// do not.
		got := h.evidence()
		for _, want := range []string{"slack", "github", "zoom", "atlassian"} {
			if !strings.Contains(got, " "+want+" ") {
				t.Errorf("evidence lacks %s:\n%s", want, got)
			}
		}
		if h.checkpoint() != lastCheckpoint {
			t.Errorf("checkpoint = %s", h.checkpoint())
		}
	})
}

func TestManualMappingWins(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.run(h.imp); err != nil {
		t.Fatal(err)
	}
	// IT maps the custom portal to a catalog app by hand.
	if err := h.store.MapIdPApp(ctx, Name, "0oa7cuS5fEr1HgF4t5d7", "notion"); err != nil {
		t.Fatal(err)
	}
	if err := h.store.SetCheckpoint(ctx, Name, checkpointKey, "not json"); err != nil {
		t.Fatal(err)
	}
	run, err := h.run(h.imp)
	if err != nil {
		t.Fatal(err)
	}
	// The unreadable checkpoint reads the window again: only the
	// portal's sign-in is new, now as the app IT chose.
	if run.Imported != 1 {
		t.Errorf("imported %d, want 1", run.Imported)
	}
	if got := h.evidence(); !strings.Contains(got, "notion       alice@acme.example") {
		t.Errorf("no evidence for the manual mapping:\n%s", got)
	}
}

func TestNextLinkToAnotherHostRefused(t *testing.T) {
	h := newHarness(t)
	// Following the link would send the token to another host.
	h.fake.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/api/v1/apps" {
			return false
		}
		w.Header().Set("Link", `<https://evil.example/api/v1/apps?after=x>; rel="next"`)
		_, _ = io.WriteString(w, `[{"id":"0oa1","name":"slack","label":"Slack","status":"ACTIVE","signOnMode":"SAML_2_0"}]`)
		return true
	}
	_, err := h.run(h.imp)
	if err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Fatalf("err = %v", err)
	}
	if h.fake.count("/api/v1/apps") != 1 {
		t.Error("the foreign link was followed")
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Okta
		want string
	}{
		{config.Okta{URL: "acme.okta.com", Token: "t"}, "want the org's URL"},
		{config.Okta{URL: "ftp://acme.okta.com", Token: "t"}, "want the org's URL"},
		{config.Okta{URL: "https://acme.okta.com"}, "API token is required"},
		{config.Okta{URL: "https://acme.okta.com", Token: "a\nb"}, "line break"},
		{config.Okta{URL: "https://acme.okta.com/some/path?x=1", Token: "t"}, ""},
	} {
		imp, err := New(tc.cfg, Options{})
		if tc.want == "" {
			if err != nil || imp.base.String() != "https://acme.okta.com" || imp.backfill != config.DefaultOktaBackfill || imp.Name() != "okta" {
				t.Errorf("New(%v) = %+v, %v", tc.cfg.URL, imp, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) err = %v, want %q", tc.cfg.URL, err, tc.want)
		}
	}
}
