package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// fixtureNow is the clock of the page tests: a Wednesday in November.
var fixtureNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Hostile strings that come from outside: app names, tenants, subjects,
// hostnames. Pages must show them as text.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileAttr   = `"'><img src=x onerror=alert(2)>`
)

// testSession is the signed-in admin the page tests act as.
var testSession = session{Email: "it@acme.example", CSRF: "csrf-token-1"}

// pageFixture is a web server over a real SQLite store and inventory.
type pageFixture struct {
	srv   *Server
	store *sqlite.Store
}

func newPageFixture(t testing.TB) *pageFixture {
	t.Helper()
	now := func() time.Time { return fixtureNow }
	store := openTestStore(t, now)
	catalog, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(catalog, store, store, inventory.Options{Grants: store, Clock: now})
	srv, err := New(Options{
		Catalog: catalog, Inventory: inv, Statuses: store, Now: now,
		Evidence: store, Grants: store, IdPApps: store, Notes: store, Devices: store, SourceHealth: store,
		Settings: func() SettingsView { return SettingsView{UnknownDomainK: 3, EvidenceRetention: "90d"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &pageFixture{srv: srv, store: store}
}

// fill stores a small company through the store APIs: two laptops (one
// silent), Slack used by two people with a hostile tenant, an invoice, a
// risky OAuth grant, an Okta app list, importer runs, and an app the
// catalog does not know whose id is hostile.
func (f *pageFixture) fill(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s := f.store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	day := fixtureNow.Add(-2 * time.Hour)
	must(s.CreateDevice(ctx, collector.Device{ID: "dev-ann", Hostname: "ann-mbp" + hostileScript, OS: "darwin", OSVersion: "15.1",
		AgentVersion: "1.0.0", OwnerEmail: "ann@acme.example", EnrollSecret: "mdm", EnrolledAt: fixtureNow.Add(-30 * 24 * time.Hour)}, []byte("hash-ann")))
	must(s.CreateDevice(ctx, collector.Device{ID: "dev-old", Hostname: "old-pc", OS: "windows", AgentVersion: "0.9.0",
		OwnerEmail: "bob@acme.example", EnrollSecret: "mdm", EnrolledAt: fixtureNow.Add(-60 * 24 * time.Hour)}, []byte("hash-old")))
	must(s.RecordHeartbeat(ctx, "dev-ann", collector.Health{CaptureState: "running", PacketsSeen: 1234567, Drops: 3, SpoolDepth: 2,
		AgentVersion: "1.0.0", LastError: hostileAttr, Interfaces: []string{"en0"}, ReportedAt: day}))
	must(s.RecordHeartbeat(ctx, "dev-old", collector.Health{CaptureState: "stopped", AgentVersion: "0.9.0", ReportedAt: fixtureNow.Add(-10 * 24 * time.Hour)}))

	sight := func(device, person, app, tenant string, at time.Time, n int64) collector.Evidence {
		d := at.Format(time.DateOnly)
		return collector.Evidence{AppID: app, Source: collector.SourceDNS, Person: person, DeviceID: device, Day: d,
			FirstSeen: at, LastSeen: at, Count: n, Domain: app + ".com", Tenant: tenant,
			DedupeKey: strings.Join([]string{"agent", device, app, tenant, person, d}, "|")}
	}
	_, err := s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-ann", BatchID: "b1", ReceivedAt: day, Evidence: []collector.Evidence{
		sight("dev-ann", "ann@acme.example", "slack", "acme"+hostileScript, day, 40),
		sight("dev-ann", "ann@acme.example", "notion", "", day, 3),
	}})
	must(err)
	_, err = s.IngestBatch(ctx, collector.Batch{DeviceID: "dev-old", BatchID: "b1", ReceivedAt: fixtureNow.Add(-10 * 24 * time.Hour), Evidence: []collector.Evidence{
		sight("dev-old", "bob@acme.example", "slack", "acme", fixtureNow.Add(-10*24*time.Hour), 5),
	}})
	must(err)
	_, err = s.AddEvidence(ctx, []collector.Evidence{
		{AppID: "slack", Source: collector.SourceInvoice, Day: "2026-10-03", FirstSeen: time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC),
			LastSeen: time.Date(2026, 10, 3, 9, 0, 0, 0, time.UTC), Count: 1, Detail: "ap@acme.example: Your receipt " + hostileAttr,
			AmountCents: 117540, Currency: "USD", DedupeKey: "mail:1"},
		{AppID: "evil" + hostileAttr, Source: collector.SourceManual, Person: "eve@acme.example", Day: "2026-11-20",
			FirstSeen: fixtureNow.Add(-5 * 24 * time.Hour), LastSeen: fixtureNow.Add(-5 * 24 * time.Hour), Count: 1, DedupeKey: "manual:1"},
	})
	must(err)
	must(s.UpsertGrants(ctx, []collector.OAuthGrant{
		{Provider: "google", Person: "ann@acme.example", ClientID: "123.apps.googleusercontent.com", AppID: "slack", Name: "Slack" + hostileScript,
			Scopes: []string{"https://www.googleapis.com/auth/gmail.readonly", "openid"}, GrantedAt: day, SeenAt: day},
		{Provider: "google", Person: "ann@acme.example", ClientID: "999.apps.googleusercontent.com", Name: "Tiny tool" + hostileAttr,
			Scopes: []string{"email"}, GrantedAt: day, SeenAt: day},
	}))
	must(s.ReplaceIdPApps(ctx, "okta", []collector.IdPApp{
		{IdP: "okta", ExternalID: "0oa1", Name: "Slack SSO", Protocol: "saml", Active: true, AppID: "slack", MappedBy: "domain"},
		{IdP: "okta", ExternalID: "0oa2", Name: "Intranet" + hostileScript, Protocol: "swa", Active: true},
	}, day))
	must(s.RecordSourceRun(ctx, collector.SourceRun{Source: "google", StartedAt: day, FinishedAt: day, Events: 10, Imported: 2}))
	must(s.RecordSourceRun(ctx, collector.SourceRun{Source: "okta", StartedAt: day, FinishedAt: day, Error: "401 from Okta" + hostileScript}))
}

// call runs a page handler as the test admin, as signedIn would after
// finding the session and checking the CSRF token.
func (f *pageFixture) call(t *testing.T, h func(http.ResponseWriter, *http.Request, session), method, target string, path map[string]string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range path {
		r.SetPathValue(k, v)
	}
	rec := httptest.NewRecorder()
	h(rec, r, testSession)
	return rec
}

// checkPage fails when a page is too large or shows a hostile string
// unescaped.
func checkPage(t *testing.T, name string, rec *httptest.ResponseRecorder) string {
	t.Helper()
	body := rec.Body.String()
	if n := len(body); n > 300<<10 {
		t.Errorf("%s: %d bytes, over 300 KB", name, n)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", `"'><img`} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: a hostile string is not escaped: %q", name, bad)
		}
	}
	return body
}

func TestAppPage(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	rec := f.call(t, f.srv.appPage, "GET", "/apps/slack", map[string]string{"id": "slack"}, nil)
	if testing.Verbose() {
		t.Log(rec.Body.String())
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /apps/slack: %d\n%s", rec.Code, rec.Body)
	}
	body := checkPage(t, "app page", rec)
	for _, want := range []string{
		"<h1>Slack</h1>",
		"Slack Technologies",
		// identity facts, the one-line verdict and the next step
		"SAML on Business&#43;; SCIM on Business&#43; / Enterprise Grid",
		"In Okta; turn on SCIM provisioning",
		"Slack SSO", // the Okta app mapped to it
		// people with last seen
		`href="/people/ann@acme.example"`, "bob@acme.example", "2026-11-25 10:00 UTC",
		// tenants, escaped
		"acme&lt;script&gt;alert(1)&lt;/script&gt;",
		// the OAuth grant with its risk
		"gmail.readonly", "Reads every message and attachment", `class="risky"`,
		// the invoice
		"2026-10-03", "USD 1,175.40", "Your receipt &#34;&#39;&gt;&lt;img",
		// the timeline links devices
		`href="/devices/dev-ann"`, "DNS lookup",
		// forms with the session's CSRF token
		`action="/apps/slack/status"`, `action="/apps/slack/notes"`, `name="csrf" value="csrf-token-1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
}

func TestAppPageNotFound(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	for _, id := range []string{"no-such-app", strings.Repeat("a", 65), ""} {
		for _, h := range []func(http.ResponseWriter, *http.Request, session){f.srv.appPage, f.srv.appStatus, f.srv.appNotes} {
			rec := f.call(t, h, "POST", "/apps/x", map[string]string{"id": id}, url.Values{"status": {"approved"}, "why": {"ok"}})
			if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "There is nothing at this address") {
				t.Errorf("app %q: %d, want the 404 page", id, rec.Code)
			}
		}
	}
}

func TestAppPageHostileID(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	id := "evil" + hostileAttr
	rec := f.call(t, f.srv.appPage, "GET", "/apps/x", map[string]string{"id": id}, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("app with a hostile id: %d", rec.Code)
	}
	body := checkPage(t, "hostile app page", rec)
	if !strings.Contains(body, `action="/apps/evil%22%27%3E%3Cimg%20src=x%20onerror=alert%282%29%3E/status"`) {
		t.Errorf("the status form's action does not escape the id as a path segment:\n%s", body)
	}
	if !strings.Contains(body, "not in the catalog") {
		t.Error("an app the catalog does not know is not said to be so")
	}
}

func TestAppStatusForm(t *testing.T) {
	tests := []struct {
		name      string
		form      url.Values
		code      int
		wantError string
	}{
		{"recorded", url.Values{"status": {"not_permitted"}, "why": {"Stores customer data outside the EU."}}, http.StatusSeeOther, ""},
		{"unknown status", url.Values{"status": {"banned"}, "why": {"x"}}, http.StatusUnprocessableEntity, "Choose one of the statuses."},
		{"no rationale", url.Values{"status": {"approved"}, "why": {"   "}}, http.StatusUnprocessableEntity, "Say why"},
		{"rationale too long", url.Values{"status": {"approved"}, "why": {strings.Repeat("é", maxRationaleLen+1)}}, http.StatusUnprocessableEntity, "under 2000 characters"},
		{"control characters", url.Values{"status": {"approved"}, "why": {"ok\x00"}}, http.StatusUnprocessableEntity, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPageFixture(t)
			f.fill(t)
			rec := f.call(t, f.srv.appStatus, "POST", "/apps/slack/status", map[string]string{"id": "slack"}, tt.form)
			if rec.Code != tt.code {
				t.Fatalf("POST: %d, want %d\n%s", rec.Code, tt.code, rec.Body)
			}
			hist, err := f.store.StatusHistory(context.Background(), "slack")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantError == "" {
				if loc := rec.Header().Get("Location"); loc != "/apps/slack?saved=status#status" {
					t.Errorf("redirect to %q", loc)
				}
				if len(hist) != 1 || hist[0].To != collector.StatusNotPermitted || hist[0].By != testSession.Email || hist[0].Why != "Stores customer data outside the EU." {
					t.Fatalf("history = %+v", hist)
				}
				page := f.call(t, f.srv.appPage, "GET", "/apps/slack?saved=status", map[string]string{"id": "slack"}, nil).Body.String()
				for _, want := range []string{"Status saved.", "not permitted", "Stores customer data outside the EU.", "it@acme.example"} {
					if !strings.Contains(page, want) {
						t.Errorf("page after the change lacks %q", want)
					}
				}
				return
			}
			if len(hist) != 0 {
				t.Errorf("a refused form recorded %+v", hist)
			}
			body := checkPage(t, "refused status form", rec)
			if !strings.Contains(body, `<p class="error">`+tt.wantError) && !strings.Contains(body, tt.wantError) {
				t.Errorf("no error %q in place", tt.wantError)
			}
			if !strings.Contains(body, `aria-invalid="true"`) {
				t.Error("the refused field is not marked invalid")
			}
		})
	}
}

func TestAppStatusFormKeepsInput(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	rec := f.call(t, f.srv.appStatus, "POST", "/apps/slack/status", map[string]string{"id": "slack"},
		url.Values{"status": {"nope"}, "why": {hostileScript}})
	body := checkPage(t, "refused status form", rec)
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>") {
		t.Error("the refused form does not show the rationale typed, escaped")
	}
}

func TestAppNotesForm(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	ctx := context.Background()
	rec := f.call(t, f.srv.appNotes, "POST", "/apps/slack/notes", map[string]string{"id": "slack"},
		url.Values{"owner": {"  sales-ops@acme.example "}, "notes": {"Renews in March.\r\n" + hostileScript}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/apps/slack?saved=notes#notes" {
		t.Fatalf("POST notes: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	n, err := f.store.AppNote(ctx, "slack")
	if err != nil {
		t.Fatal(err)
	}
	if n.Owner != "sales-ops@acme.example" || n.Notes != "Renews in March.\n"+hostileScript || n.By != testSession.Email || !n.At.Equal(fixtureNow) {
		t.Errorf("stored note = %+v", n)
	}
	body := checkPage(t, "app page with notes", f.call(t, f.srv.appPage, "GET", "/apps/slack?saved=notes", map[string]string{"id": "slack"}, nil))
	for _, want := range []string{"Notes saved.", `value="sales-ops@acme.example"`, "Renews in March.\n&lt;script&gt;", "Last changed by it@acme.example"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	bad := []struct {
		form  url.Values
		field string
	}{
		{url.Values{"owner": {strings.Repeat("x", collector.MaxAppOwnerLen+1)}}, "Keep the owner under"},
		{url.Values{"owner": {"two\nlines"}}, "type one line"},
		{url.Values{"notes": {strings.Repeat("n", collector.MaxAppNotesLen+1)}}, "Keep the notes under"},
		{url.Values{"notes": {"bell\a"}}, "control characters"},
	}
	for _, b := range bad {
		rec := f.call(t, f.srv.appNotes, "POST", "/apps/slack/notes", map[string]string{"id": "slack"}, b.form)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), b.field) {
			t.Errorf("notes %v: %d, want 422 with %q", b.form, rec.Code, b.field)
		}
	}
	if n2, _ := f.store.AppNote(ctx, "slack"); n2.Owner != n.Owner || n2.Notes != n.Notes {
		t.Errorf("a refused form changed the note: %+v", n2)
	}
}

func TestReadinessSummary(t *testing.T) {
	tests := []struct {
		rd   inventory.Readiness
		want string
	}{
		{inventory.Readiness{SSO: "yes", SSOProtocols: []string{"saml"}, SSOTier: "Enterprise", SCIM: "no", ManagedByHand: true,
			ManualCost: inventory.ManualCost{TotalCents: 1_175_400, Currency: "USD"}},
			"SAML on Enterprise; no SCIM, so offboarding stays manual; about $11.8k a year by hand"},
		{inventory.Readiness{SSO: "yes", SSOProtocols: []string{"saml", "oidc"}, SCIM: "yes", SCIMTier: "Business+"},
			"SAML or OIDC; SCIM on Business+"},
		{inventory.Readiness{SSO: "partial", SCIM: "paused", ManagedByHand: true, ManualCost: inventory.ManualCost{TotalCents: 95_000, Currency: "USD"}},
			"partial SSO; SCIM paused by the vendor, so offboarding stays manual; about $950 a year by hand"},
		{inventory.Readiness{SSO: "unknown", SCIM: "unknown"}, "SSO support unknown; SCIM support unknown"},
		{inventory.Readiness{SSO: "no", SCIM: "idp-only"}, "no SSO; SCIM only through some IdPs' own integrations"},
	}
	for _, tt := range tests {
		if got := readinessSummary(tt.rd); got != tt.want {
			t.Errorf("readinessSummary(%+v)\n got  %q\n want %q", tt.rd, got, tt.want)
		}
	}
}

func TestApproxMoney(t *testing.T) {
	tests := []struct {
		cents    int64
		currency string
		want     string
	}{
		{95_000, "USD", "$950"},
		{1_170_000, "USD", "$11.7k"},
		{1_200_000, "USD", "$12k"},
		{250_000_000, "EUR", "EUR 2.5M"},
		{-150_000, "USD", "-$1.5k"},
	}
	for _, tt := range tests {
		if got := approxMoney(tt.cents, tt.currency); got != tt.want {
			t.Errorf("approxMoney(%d, %s) = %q, want %q", tt.cents, tt.currency, got, tt.want)
		}
	}
}

// BenchmarkAppPage renders the page of an app used by 3,000 people, each
// seen on 5 days, with an OAuth grant each: the people and grant tables
// are capped, and the page must stay under 300 KB.
func BenchmarkAppPage(b *testing.B) {
	f := newPageFixture(b)
	ctx := context.Background()
	var ev []collector.Evidence
	var grants []collector.OAuthGrant
	for p := range 3000 {
		person := fmt.Sprintf("person%04d@acme.example", p)
		for d := range 5 {
			at := fixtureNow.Add(-time.Duration(d*24+p%24) * time.Hour)
			ev = append(ev, collector.Evidence{AppID: "slack", Source: collector.SourceSSOLogin, Person: person, Day: at.Format(time.DateOnly),
				FirstSeen: at, LastSeen: at, Count: 1, Domain: "slack.com", Detail: "okta", DedupeKey: fmt.Sprintf("sso:%s:%d", person, d)})
		}
		grants = append(grants, collector.OAuthGrant{Provider: "google", Person: person, ClientID: "1.apps.googleusercontent.com", AppID: "slack",
			Name: "Slack", Scopes: []string{"https://www.googleapis.com/auth/gmail.readonly", "openid", "email"}, GrantedAt: fixtureNow, SeenAt: fixtureNow})
	}
	if _, err := f.store.AddEvidence(ctx, ev); err != nil {
		b.Fatal(err)
	}
	if err := f.store.UpsertGrants(ctx, grants); err != nil {
		b.Fatal(err)
	}
	var size int
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/apps/slack", nil)
		r.SetPathValue("id", "slack")
		rec := httptest.NewRecorder()
		f.srv.appPage(rec, r, testSession)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
	if size > 300<<10 {
		b.Errorf("app page is %d bytes, over 300 KB", size)
	}
}
