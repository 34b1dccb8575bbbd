package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/internal/golden"
	"github.com/shadowmap/shadowmap/signatures"
)

// invNow is the fixtures' clock: a Wednesday, so "this week" began on
// Monday 2026-11-23.
var invNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Hostile strings from outside: an app id no catalog has (its name is its
// id) and a tenant that tries to break out of an attribute.
const (
	hostileApp    = `<script>alert(1)</script>`
	hostileTenant = `"'><img src=x>`
)

var testAdmin = session{Email: "it@acme.example", CSRF: "csrf-token-for-tests"}

// invFixture is a web Server over a real SQLite store and a real inventory.
type invFixture struct {
	srv   *Server
	store *sqlite.Store
}

func newInvFixture(t testing.TB) *invFixture {
	t.Helper()
	cat, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	store := openTestStore(t, func() time.Time { return invNow })
	inv := inventory.New(cat, store, store, inventory.Options{Grants: store, Clock: func() time.Time { return invNow }})
	srv, err := New(Options{Catalog: cat, Inventory: inv, Statuses: store, Now: func() time.Time { return invNow }})
	if err != nil {
		t.Fatal(err)
	}
	return &invFixture{srv: srv, store: store}
}

// use records that person used app (an SSO sign-in) first seen at first.
func (f *invFixture) use(t testing.TB, app, person, tenant string, first time.Time, src collector.Source, detail string) {
	t.Helper()
	_, err := f.store.AddEvidence(context.Background(), []collector.Evidence{{
		AppID: app, Source: src, Person: person, Day: first.Format(time.DateOnly), FirstSeen: first, LastSeen: invNow.Add(-time.Hour),
		Count: 1, Tenant: tenant, Detail: detail, DedupeKey: fmt.Sprintf("%s|%s|%s|%s", src, app, person, tenant),
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *invFixture) invoice(t testing.TB, app string, day time.Time, cents int64, currency string) {
	t.Helper()
	_, err := f.store.AddEvidence(context.Background(), []collector.Evidence{{
		AppID: app, Source: collector.SourceInvoice, Day: day.Format(time.DateOnly), FirstSeen: day, LastSeen: day,
		AmountCents: cents, Currency: currency, DedupeKey: fmt.Sprintf("invoice|%s|%s|%s", app, day, currency),
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// seedSmall is a company the filter tests can reason about:
//   - slack: 3 people signing in through Okta, approved, inside Okta, two
//     tenants;
//   - notion: 2 people (OAuth sign-in), outside the IdP, paid in USD;
//   - figma: 1 person, an OAuth grant with gmail.readonly (risky);
//   - hostileApp: 1 person, a hostile tenant, outside the IdP;
//   - linear: 1 person, first seen this week;
//   - chatgpt: only paid for (no use), in EUR.
func seedSmall(t testing.TB, f *invFixture) {
	t.Helper()
	old := invNow.AddDate(0, -2, 0)
	for i, p := range []string{"ann@acme.example", "bob@acme.example", "cy@acme.example"} {
		f.use(t, "slack", p, []string{"acme", "acme-eu", "acme"}[i], old, collector.SourceSSOLogin, "okta")
	}
	f.use(t, "notion", "ann@acme.example", "", old, collector.SourceOAuthGrant, "openid email")
	f.use(t, "notion", "bob@acme.example", "", old, collector.SourceOAuthGrant, "openid email")
	f.use(t, "figma", "cy@acme.example", "", old, collector.SourceOAuthGrant, "openid https://www.googleapis.com/auth/gmail.readonly")
	f.use(t, hostileApp, "dan@acme.example", hostileTenant, old, collector.SourceOAuthGrant, "openid")
	f.use(t, "linear", "ann@acme.example", "", invNow.AddDate(0, 0, -2), collector.SourceOAuthGrant, "openid")
	f.invoice(t, "notion", invNow.AddDate(0, -1, 0), 120000, "USD")
	f.invoice(t, "chatgpt", invNow.AddDate(0, -1, -3), 5000, "EUR")
	ctx := context.Background()
	if err := f.store.SetInsideIdP(ctx, "slack", "okta"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SetStatus(ctx, collector.StatusChange{AppID: "slack", To: collector.StatusApproved, By: "it@acme.example", Why: "company chat"}); err != nil {
		t.Fatal(err)
	}
}

// get calls a page function directly with a signed-in session (the
// signedIn wrapper is tested end to end), through the security headers.
func get(f *invFixture, h func(http.ResponseWriter, *http.Request, session), target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, testAdmin) })).
		ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec
}

// rowIDs are the app ids of the table's rows, in order.
var rowID = regexp.MustCompile(`<input type="checkbox" name="id" value="([^"]*)"`)

func rowIDs(body string) []string {
	var out []string
	for _, m := range rowID.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestAppsPageFilters(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	escapedHostile := "&lt;script&gt;alert(1)&lt;/script&gt;"
	tests := []struct {
		name   string
		query  string
		status int
		want   []string // row ids, in order
		text   string   // also in the page
	}{
		{"all by people", "", 200, []string{"slack", "notion", escapedHostile, "figma", "linear", "chatgpt"}, "Apps 1–6 of 6."},
		{"status", "status=approved", 200, []string{"slack"}, ""},
		{"flag outside idp", "flag=outside_idp", 200, []string{"notion", escapedHostile, "figma", "linear"}, ""},
		{"flag risky", "flag=risky_oauth", 200, []string{"figma"}, "risky OAuth"},
		{"flag new", "flag=new_this_week", 200, []string{"linear"}, "new this week"},
		{"source", "source=invoice", 200, []string{"notion", "chatgpt"}, ""},
		{"category", "category=ai", 200, []string{"chatgpt"}, ""},
		{"search tenant", "q=acme-eu", 200, []string{"slack"}, ""},
		{"search name", "q=NOT", 200, []string{"notion"}, ""},
		{"sort name", "sort=name&order=asc", 200, []string{escapedHostile, "chatgpt", "figma", "linear", "notion", "slack"}, `aria-sort="ascending"`},
		{"sort name desc", "sort=name&order=desc", 200, []string{"slack", "notion", "linear", "figma", "chatgpt", escapedHostile}, `aria-sort="descending"`},
		{"sort spend", "sort=spend", 200, []string{"notion", "chatgpt", escapedHostile, "figma", "linear", "slack"}, "USD 1,200.00"},
		{"no match", "q=zzz", 200, nil, "No apps match."},
		{"bad flag shown in place", "flag=nope", 400, []string{"slack", "notion", escapedHostile, "figma", "linear", "chatgpt"}, "There is no flag &#34;nope&#34;"},
		{"bad page", "page=x", 400, []string{"slack", "notion", escapedHostile, "figma", "linear", "chatgpt"}, "is not a page number"},
		{"page past the end", "page=9", 200, nil, "Page 9 is past the end of the 6 apps."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(f, f.srv.appsPage, "/apps?"+tt.query)
			body := rec.Body.String()
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rowIDs(body); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
			if !strings.Contains(body, tt.text) {
				t.Errorf("page lacks %q", tt.text)
			}
		})
	}
}

func TestAppsPageShowsTheRow(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	body := get(f, f.srv.appsPage, "/apps?q=slack").Body.String()
	for _, want := range []string{
		`<a href="/apps/slack">Slack</a>`, "acme, acme-eu", ">approved<", "communication", "Okta",
		"sso login", "several tenants", "SSO yes", `name="csrf" value="csrf-token-for-tests"`,
		`href="/apps.csv?q=slack"`, `name="back" value="q=slack"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestAppsPaging(t *testing.T) {
	f := newInvFixture(t)
	// 120 apps the catalog does not know, app-000 used by the most people.
	var ev []collector.Evidence
	for a := range 120 {
		for p := range 120 - a {
			ev = append(ev, collector.Evidence{AppID: fmt.Sprintf("app-%03d", a), Source: collector.SourceSSOLogin,
				Person: fmt.Sprintf("p%03d@acme.example", p), Day: "2026-11-01", Tenant: "acme",
				DedupeKey: fmt.Sprintf("%d|%d", a, p)})
		}
	}
	if _, err := f.store.AddEvidence(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query     string
		first     string
		rows      int
		wantLinks []string
		missLinks []string
		summary   string
	}{
		{"", "app-000", 50, []string{`href="/apps?page=2"`, `href="/apps?page=3"`, `rel="next"`}, []string{`rel="prev"`}, "Apps 1–50 of 120."},
		{"page=2&q=acme", "app-050", 50, []string{`href="/apps?q=acme"`, `href="/apps?page=3&amp;q=acme"`}, nil, "Apps 51–100 of 120."},
		{"page=3&sort=name", "app-100", 20, []string{`href="/apps?page=2&amp;sort=name"`}, []string{`rel="next"`}, "Apps 101–120 of 120."},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			body := get(f, f.srv.appsPage, "/apps?"+tt.query).Body.String()
			ids := rowIDs(body)
			if len(ids) != tt.rows || ids[0] != tt.first {
				t.Errorf("%d rows from %s, want %d from %s", len(ids), ids[0], tt.rows, tt.first)
			}
			if !strings.Contains(body, tt.summary) {
				t.Errorf("page lacks %q", tt.summary)
			}
			for _, l := range tt.wantLinks {
				if !strings.Contains(body, l) {
					t.Errorf("page lacks link %s", l)
				}
			}
			for _, l := range tt.missLinks {
				if strings.Contains(body, l) {
					t.Errorf("page has %s", l)
				}
			}
		})
	}
}

func TestPagesEscapeHostileNames(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	f.invoice(t, "notion", invNow.AddDate(0, -2, 0), 100, `<b>X</b>`)
	for _, p := range []struct {
		name string
		h    func(http.ResponseWriter, *http.Request, session)
		url  string
	}{
		{"apps", f.srv.appsPage, "/apps?q=" + url.QueryEscape(hostileTenant)},
		{"apps all", f.srv.appsPage, "/apps"},
		{"overview", f.srv.overviewPage, "/"},
	} {
		t.Run(p.name, func(t *testing.T) {
			rec := get(f, p.h, p.url)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			for _, bad := range []string{hostileApp, hostileTenant, "<img", "<b>X"} {
				if strings.Contains(body, bad) {
					t.Errorf("page holds %q unescaped", bad)
				}
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Error("the hostile app is not shown escaped")
			}
		})
	}
}

// post sends the bulk form; csrf "" leaves the token out.
func post(f *invFixture, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/apps/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.srv.appsStatus(rec, req, testAdmin)
	return rec
}

func TestBulkStatus(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	ctx := context.Background()
	good := func(mod func(url.Values)) url.Values {
		v := url.Values{"csrf": {testAdmin.CSRF}, "status": {"not_permitted"}, "why": {"  no DPA signed  "},
			"id": {"notion", "figma"}, "back": {"flag=outside_idp&sort=name"}}
		if mod != nil {
			mod(v)
		}
		return v
	}
	refused := []struct {
		name   string
		form   url.Values
		status int
		want   []string
	}{
		{"no csrf", good(func(v url.Values) { v.Del("csrf") }), http.StatusForbidden, []string{"expired"}},
		{"wrong csrf", good(func(v url.Values) { v.Set("csrf", "other") }), http.StatusForbidden, []string{"expired"}},
		{"bad status", good(func(v url.Values) { v.Set("status", "banned") }), http.StatusUnprocessableEntity,
			[]string{"Choose the status to set.", `value="notion" aria-label="Tick Notion" checked`, `value="no DPA signed"`}},
		{"no reason", good(func(v url.Values) { v.Set("why", " ") }), http.StatusUnprocessableEntity, []string{"Say why"}},
		{"long reason", good(func(v url.Values) { v.Set("why", strings.Repeat("x", maxStatusWhy+1)) }), http.StatusUnprocessableEntity, []string{"under 1000 characters"}},
		{"no apps", good(func(v url.Values) { v.Del("id") }), http.StatusUnprocessableEntity, []string{"Tick at least one app."}},
		{"unknown app", good(func(v url.Values) { v.Add("id", `nope"><x>`) }), http.StatusUnprocessableEntity, []string{"The inventory has no app &#34;nope\\&#34;&gt;&lt;x&gt;&#34;."}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(f, tt.form)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			for _, w := range tt.want {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("answer lacks %q", w)
				}
			}
			if tt.status == http.StatusUnprocessableEntity {
				// The table comes back as the form's back link had it.
				if got := rowIDs(rec.Body.String()); strings.Join(got, ",") != "&lt;script&gt;alert(1)&lt;/script&gt;,figma,linear,notion" {
					t.Errorf("rows %q", got)
				}
			}
			if h, _ := f.store.StatusHistory(ctx, "notion"); len(h) != 0 {
				t.Fatalf("a refused form changed the history: %+v", h)
			}
		})
	}

	rec := post(f, good(nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	if loc != "/apps?changed=2&flag=outside_idp&sort=name&to=not_permitted" {
		t.Errorf("redirect to %q", loc)
	}
	for _, id := range []string{"notion", "figma"} {
		h, err := f.store.StatusHistory(ctx, id)
		if err != nil || len(h) != 1 {
			t.Fatalf("history of %s: %+v, %v", id, h, err)
		}
		if c := h[0]; c.From != collector.StatusUnreviewed || c.To != collector.StatusNotPermitted || c.By != testAdmin.Email || c.Why != "no DPA signed" {
			t.Errorf("history of %s: %+v", id, c)
		}
	}
	body := get(f, f.srv.appsPage, loc).Body.String()
	if !strings.Contains(body, "Set 2 apps to not permitted.") || strings.Join(rowIDs(body), ",") != "&lt;script&gt;alert(1)&lt;/script&gt;,figma,linear,notion" {
		t.Errorf("after the change the page shows %q", rowIDs(body))
	}
	if !strings.Contains(get(f, f.srv.appsPage, "/apps?status=not_permitted").Body.String(), `value="figma"`) {
		t.Error("the status filter does not find the changed app")
	}
}

func TestAppsCSV(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	f.use(t, "slack", "eve@acme.example", "=cmd|' /C calc'!A0", invNow.AddDate(0, -1, 0), collector.SourceSSOLogin, "okta")
	rec := get(f, f.srv.appsCSV, "/apps.csv?sort=name")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(inventory.CSVHeader(), ",") {
		t.Errorf("header %q", recs[0])
	}
	var ids []string
	for _, r := range recs[1:] {
		ids = append(ids, r[0])
	}
	if strings.Join(ids, ",") != hostileApp+",chatgpt,figma,linear,notion,slack" {
		t.Errorf("ids %q", ids)
	}
	if slack := recs[6]; slack[15] != "'=cmd|' /c calc'!a0 acme acme-eu" || slack[4] != "approved" {
		t.Errorf("slack %q", slack)
	}

	rec = get(f, f.srv.appsCSV, "/apps.csv?flag=risky_oauth")
	if n := strings.Count(rec.Body.String(), "\n"); n != 2 || !strings.Contains(rec.Body.String(), "figma,Figma") {
		t.Errorf("filtered export: %q", rec.Body)
	}
	if rec := get(f, f.srv.appsCSV, "/apps.csv?status=bogus"); rec.Code != http.StatusBadRequest {
		t.Errorf("bad filter: %d", rec.Code)
	}
}

func TestAppsCSVEveryPage(t *testing.T) {
	f := newInvFixture(t)
	var ev []collector.Evidence
	for a := range inventory.MaxLimit + 30 {
		ev = append(ev, collector.Evidence{AppID: fmt.Sprintf("app-%04d", a), Source: collector.SourceSSOLogin,
			Person: "ann@acme.example", Day: "2026-11-01", DedupeKey: fmt.Sprint(a)})
	}
	if _, err := f.store.AddEvidence(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	// Once with the inventory's one-read AllApps, once paging through an
	// inventory without it.
	for _, inv := range []InventoryReader{f.srv.opts.Inventory, pagedOnly{f.srv.opts.Inventory}} {
		f.srv.opts.Inventory = inv
		rec := get(f, f.srv.appsCSV, "/apps.csv")
		if n := strings.Count(rec.Body.String(), "\n"); n != inventory.MaxLimit+31 {
			t.Errorf("%T: %d lines, want every app and the header", inv, n)
		}
	}
}

// pagedOnly hides AllApps, so allApps pages through Apps.
type pagedOnly struct{ InventoryReader }

func TestOverview(t *testing.T) {
	f := newInvFixture(t)
	seedSmall(t, f)
	// Spend this month and two months ago, in two currencies.
	f.invoice(t, "notion", invNow.AddDate(0, -2, 0), 30000, "USD")
	f.invoice(t, "figma", invNow.AddDate(0, 0, -1), 4500, "GBP")
	rec := get(f, f.srv.overviewPage, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		// found vs known: 5 apps in use, 1 in the IdP (slack); chatgpt is only paid for.
		"<strong>5</strong> apps in use; <strong>1</strong> in the IdP.",
		`<a href="/apps?flag=outside_idp">4 in use outside the IdP</a>`,
		"1 in use and in the IdP", "0 in the IdP, no use seen",
		// new this week
		`<td><a href="/apps/linear">Linear</a></td><td>2026-11-23</td>`,
		// outside the IdP by people: notion (2) before figma (1)
		`<a href="/apps/notion">Notion</a></td><td class="num">2</td>`,
		// risky grants with the scope
		`<span class="flag warn" title="Reads every message and attachment in the mailbox.">gmail.readonly</span>`,
		// spend: USD first (more), then GBP, then EUR
		"USD: USD 1,500.00 over 12 months", "GBP: GBP 45.00 over 12 months", "EUR: EUR 50.00 over 12 months",
		`aria-label="Spend in USD by month"`, "<title>October 2026: USD 1,200.00</title>",
		// discoveries: this week holds notion
		`aria-label="Apps discovered per week"`, "<title>Week of 23 November 2026: 1 new app</title>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if idx := strings.Index(body, "USD: "); idx < 0 || idx > strings.Index(body, "GBP: ") {
		t.Error("the currency with the most spend is not first")
	}
	if len(body) > 300<<10 {
		t.Errorf("overview is %d bytes", len(body))
	}
}

func TestOverviewEmpty(t *testing.T) {
	f := newInvFixture(t)
	body := get(f, f.srv.overviewPage, "/").Body.String()
	for _, want := range []string{"<strong>0</strong> apps in use", "No app was first seen in the last 7 days.",
		"Every app in use is inside the IdP.", "No OAuth grant with a high-risk scope.", "No invoices or receipts in the last 12 months."} {
		if !strings.Contains(body, want) {
			t.Errorf("empty overview lacks %q", want)
		}
	}
}

func TestInventoryRoutesNeedSignIn(t *testing.T) {
	h := newInvFixture(t).srv.Handler()
	for _, target := range []string{"/", "/apps", "/apps.csv"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code == http.StatusOK || rec.Code == http.StatusNotFound {
			t.Errorf("GET %s without a session: %d", target, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/apps/status", nil))
	if rec.Code == http.StatusOK {
		t.Errorf("GET /apps/status: %d", rec.Code)
	}
}

func TestBarChartGolden(t *testing.T) {
	bars := []bar{{Label: "Jan", Value: 0, Text: "0"}, {Label: "Feb", Value: 50, Text: "50"}, {Label: `<i>`, Value: 100, Text: `"100"`}}
	got := string(barChart(`Spend in <b>&`, bars)) + "\n" + string(foundKnown{Both: 2, OutsideOnly: 6, IdPOnly: 0}.figure()) + "\n"
	golden.Check(t, filepath.Join("testdata", "charts.golden.svg"), got)
	if strings.Contains(got, "<i>") || strings.Contains(got, "<b>") {
		t.Error("chart text is not escaped")
	}
}

func TestMoneyText(t *testing.T) {
	for cents, want := range map[int64]string{0: "USD 0.00", 5: "USD 0.05", 123456789: "USD 1,234,567.89", -1050: "USD -10.50"} {
		if got := moneyText(cents, "USD"); got != want {
			t.Errorf("moneyText(%d) = %q, want %q", cents, got, want)
		}
	}
	for cents, want := range map[int64]string{95000: "950", 1234500: "12.3k", 200000000: "2M"} {
		if got := shortMoney(cents); got != want {
			t.Errorf("shortMoney(%d) = %q, want %q", cents, got, want)
		}
	}
}
