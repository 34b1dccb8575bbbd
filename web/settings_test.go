package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/server"
)

// settingsFixture is a web server whose settings page edits a real SQLite
// store, with the configuration's secrets in its view.
func settingsFixture(t *testing.T) (*Server, *pageFixture) {
	t.Helper()
	f := newPageFixture(t)
	srv, err := New(Options{
		Catalog: f.srv.opts.Catalog, Now: f.srv.opts.Now,
		Settings: func() SettingsView {
			return SettingsView{EvidenceRetention: "90d", AggregateRetention: "13mo", ConfigFile: "/etc/shadowmap/shadowmap.yaml",
				EnrollSecrets: []SecretView{{Name: "from-config", From: "file /etc/shadowmap/enroll"}}}
		},
		EnrollSecrets: f.store, DigestRecipients: f.store, Retention: f.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, f
}

func settingsPost(t *testing.T, f *pageFixture, h func(http.ResponseWriter, *http.Request, session), target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	form.Set("csrf", testSession.CSRF)
	return f.call(t, h, "POST", target, nil, form)
}

var secretValuePattern = regexp.MustCompile(`<code>([A-Za-z0-9_-]{43})</code>`)

// TestEnrollSecretLifecycle: a secret made on the page is shown once,
// stored as its SHA-256, enrolls an agent through the real collector
// server, and once revoked (with the confirmation) is refused with 403.
func TestEnrollSecretLifecycle(t *testing.T) {
	srv, f := settingsFixture(t)
	ctx := context.Background()

	rec := settingsPost(t, f, srv.createEnrollSecret, "/settings/enroll-secrets", url.Values{"name": {"laptops-web"}})
	body := checkPage(t, "new secret", rec)
	if rec.Code != http.StatusOK {
		t.Fatalf("create: %d\n%s", rec.Code, body)
	}
	m := secretValuePattern.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "shown this once") {
		t.Fatalf("the new secret's value is not shown with its note:\n%s", body)
	}
	value := m[1]
	stored, err := f.store.EnrollSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(value))
	if len(stored) != 1 || stored[0].Name != "laptops-web" || !bytes.Equal(stored[0].Hash, want[:]) || stored[0].CreatedBy != testSession.Email {
		t.Fatalf("stored %+v, want laptops-web with the value's SHA-256 by %s", stored, testSession.Email)
	}

	rec = f.call(t, srv.settingsPage, "GET", "/settings", nil, nil)
	body = checkPage(t, "settings after create", rec)
	if strings.Contains(body, value) {
		t.Error("a reload of the settings page shows the secret's value again")
	}
	for _, w := range []string{"laptops-web", "from-config", "set in the configuration file", "active"} {
		if !strings.Contains(body, w) {
			t.Errorf("settings page lacks %q", w)
		}
	}

	coll := httptest.NewServer(server.New(server.Options{Catalog: f.srv.opts.Catalog, Stores: f.store, StoredEnrollSecrets: f.store}).Handler())
	defer coll.Close()
	enroll := func(secret string) int {
		t.Helper()
		b, _ := json.Marshal(api.EnrollRequest{EnrollSecret: secret, Hostname: "mbp", OS: "darwin", AgentVersion: "1.0.0"})
		resp, err := http.Post(coll.URL+api.PathEnroll, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := enroll(value); code != http.StatusCreated {
		t.Fatalf("enroll with the new secret: %d, want 201", code)
	}

	rec = settingsPost(t, f, srv.revokeEnrollSecret, "/settings/enroll-secrets/revoke", url.Values{"name": {"laptops-web"}, "confirm": {"laptops"}})
	body = checkPage(t, "revoke unconfirmed", rec)
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, "Type the secret&#39;s name to confirm") {
		t.Errorf("revoke without the right confirmation: %d", rec.Code)
	}
	if code := enroll(value); code != http.StatusCreated {
		t.Fatalf("an unconfirmed revoke revoked: enroll %d", code)
	}
	rec = settingsPost(t, f, srv.revokeEnrollSecret, "/settings/enroll-secrets/revoke", url.Values{"name": {"nope"}, "confirm": {"nope"}})
	if rec.Code != http.StatusNotFound {
		t.Errorf("revoke an unknown secret: %d, want 404", rec.Code)
	}
	rec = settingsPost(t, f, srv.revokeEnrollSecret, "/settings/enroll-secrets/revoke", url.Values{"name": {"laptops-web"}, "confirm": {"laptops-web"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/settings?saved=revoked#enroll-secrets" {
		t.Fatalf("revoke: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if code := enroll(value); code != http.StatusForbidden {
		t.Errorf("enroll with the revoked secret: %d, want 403", code)
	}
	rec = f.call(t, srv.settingsPage, "GET", "/settings?saved=revoked", nil, nil)
	body = checkPage(t, "settings after revoke", rec)
	for _, w := range []string{"Enroll secret revoked", "revoked by it@acme.example"} {
		if !strings.Contains(body, w) {
			t.Errorf("settings page after revoke lacks %q", w)
		}
	}
	if strings.Contains(body, `value="laptops-web"`) {
		t.Error("a revoked secret still has a revoke form")
	}
}

func TestCreateEnrollSecretValidation(t *testing.T) {
	srv, f := settingsFixture(t)
	if err := f.store.CreateEnrollSecret(context.Background(), collector.EnrollSecret{Name: "taken", Hash: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"", "Give it a name"},
		{hostileScript, "Give it a name"},
		{hostileAttr, "Give it a name"},
		{strings.Repeat("a", 65), "Give it a name"},
		{"-dash-first", "Give it a name"},
		{"from-config", "configuration file already has"},
		{"taken", "names are never reused"},
	}
	for _, tt := range tests {
		rec := settingsPost(t, f, srv.createEnrollSecret, "/settings/enroll-secrets", url.Values{"name": {tt.name}})
		body := checkPage(t, "create "+tt.name, rec)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) || !strings.Contains(body, `aria-invalid="true"`) {
			t.Errorf("create %q: %d, want 422 with %q in place", tt.name, rec.Code, tt.want)
		}
		if secretValuePattern.MatchString(body) {
			t.Errorf("create %q: a refused secret shows a value", tt.name)
		}
	}
	got, _ := f.store.EnrollSecrets(context.Background())
	if len(got) != 1 {
		t.Errorf("refused names stored secrets: %+v", got)
	}
}

func TestDigestRecipientsForm(t *testing.T) {
	tests := []struct {
		name, text string
		wantCode   int
		want       []string // stored on success
		wantErr    string
	}{
		{"one per line", "IT@Acme.example\nann@acme.example\n", http.StatusSeeOther, []string{"ann@acme.example", "it@acme.example"}, ""},
		{"commas and duplicates", "a@acme.example, b@acme.example;a@ACME.example", http.StatusSeeOther, []string{"a@acme.example", "b@acme.example"}, ""},
		{"empty clears", "  \n", http.StatusSeeOther, nil, ""},
		{"not an address", "ann@acme.example\nnot-an-address", http.StatusUnprocessableEntity, nil, "not-an-address"},
		{"display name", "Ann <ann@acme.example>", http.StatusUnprocessableEntity, nil, "is not an email address"},
		{"hostile", hostileScript + "@x.example", http.StatusUnprocessableEntity, nil, "is not an email address"},
		{"too many", manyAddresses(51), http.StatusUnprocessableEntity, nil, "at most 50"},
		{"too long", strings.Repeat("x", 20000), http.StatusUnprocessableEntity, nil, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, f := settingsFixture(t)
			ctx := context.Background()
			if err := f.store.SetDigestRecipients(ctx, []string{"before@acme.example"}); err != nil {
				t.Fatal(err)
			}
			rec := settingsPost(t, f, srv.saveDigestRecipients, "/settings/digest-recipients", url.Values{"recipients": {tt.text}})
			body := checkPage(t, tt.name, rec)
			if rec.Code != tt.wantCode {
				t.Fatalf("%d, want %d\n%s", rec.Code, tt.wantCode, body)
			}
			got, err := f.store.DigestRecipients(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != http.StatusSeeOther {
				if !strings.Contains(body, tt.wantErr) || !strings.Contains(body, `class="error"`) {
					t.Errorf("the error %q is not shown in place", tt.wantErr)
				}
				if len(got) != 1 || got[0] != "before@acme.example" {
					t.Errorf("a refused list changed the stored one to %q", got)
				}
				return
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("stored %q, want %q", got, tt.want)
			}
			page := checkPage(t, "after save", f.call(t, srv.settingsPage, "GET", "/settings?saved=recipients", nil, nil))
			if !strings.Contains(page, "Digest recipients saved.") || !strings.Contains(page, strings.Join(tt.want, "\n")) {
				t.Errorf("the page after saving does not show the message and the list")
			}
		})
	}
}

func manyAddresses(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("person")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString("@acme.example\n")
	}
	return b.String()
}

func TestRetentionForm(t *testing.T) {
	tests := []struct {
		name, evidence, aggregates string
		wantCode                   int
		wantErr                    string
	}{
		{"both", "30d", "2y", http.StatusSeeOther, ""},
		{"evidence only", "60d", "", http.StatusSeeOther, ""},
		{"clear", "", "", http.StatusSeeOther, ""},
		{"hours are fine from a day", "48h", "", http.StatusSeeOther, ""},
		{"not a period", "ninety days", "", http.StatusUnprocessableEntity, "Write a period like 90d"},
		{"minutes, meant months", "13m", "", http.StatusUnprocessableEntity, "at least a day"},
		{"zero", "0d", "", http.StatusUnprocessableEntity, "at least a day"},
		{"negative", "-5h", "", http.StatusUnprocessableEntity, "at least a day"},
		{"aggregates shorter than evidence", "1y", "30d", http.StatusUnprocessableEntity, "at least as long as evidence"},
		{"aggregates shorter than the configured evidence", "", "30d", http.StatusUnprocessableEntity, "at least as long as evidence (90d)"},
		{"hostile", hostileAttr, "", http.StatusUnprocessableEntity, "Write a period like 90d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, f := settingsFixture(t)
			ctx := context.Background()
			rec := settingsPost(t, f, srv.saveRetention, "/settings/retention", url.Values{"evidence": {tt.evidence}, "aggregates": {tt.aggregates}})
			body := checkPage(t, tt.name, rec)
			if rec.Code != tt.wantCode {
				t.Fatalf("%d, want %d\n%s", rec.Code, tt.wantCode, body)
			}
			got, err := f.store.RetentionOverride(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != http.StatusSeeOther {
				if !strings.Contains(body, tt.wantErr) || !strings.Contains(body, `aria-invalid="true"`) {
					t.Errorf("the error %q is not shown in place", tt.wantErr)
				}
				if got.Set() {
					t.Errorf("a refused form stored %+v", got)
				}
				return
			}
			if got.Evidence != tt.evidence || got.Aggregates != tt.aggregates {
				t.Errorf("stored %+v, want %q and %q", got, tt.evidence, tt.aggregates)
			}
			page := checkPage(t, "after save", f.call(t, srv.settingsPage, "GET", "/settings?saved=retention", nil, nil))
			if !strings.Contains(page, "Retention saved") {
				t.Error("no message after saving")
			}
			if tt.evidence != "" && !strings.Contains(page, tt.evidence+" (set on this page; the configuration says 90d)") {
				t.Error("the page does not show the override beside the configuration's period")
			}
		})
	}
}

// TestSettingsEscapesHostileNames: names that reach the page from the
// configuration file or the store are shown as text.
func TestSettingsEscapesHostileNames(t *testing.T) {
	f := newPageFixture(t)
	ctx := context.Background()
	if err := f.store.CreateEnrollSecret(ctx, collector.EnrollSecret{Name: hostileAttr, Hash: make([]byte, 32), CreatedBy: hostileScript}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetDigestRecipients(ctx, []string{hostileScript}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetRetentionOverride(ctx, collector.RetentionOverride{Evidence: hostileAttr, By: hostileScript}); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{
		Settings: func() SettingsView {
			return SettingsView{EnrollSecrets: []SecretView{{Name: hostileScript, From: hostileAttr}}}
		},
		EnrollSecrets: f.store, DigestRecipients: f.store, Retention: f.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := f.call(t, srv.settingsPage, "GET", "/settings", nil, nil)
	body := checkPage(t, "hostile settings", rec)
	if rec.Code != http.StatusOK || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "&#34;&#39;&gt;&lt;img") {
		t.Errorf("hostile names are not shown escaped: %d", rec.Code)
	}
}

// TestSettingsFormsNeedSignIn: the forms change nothing without a
// session. (signedIn checks the CSRF token of signed-in POSTs before any
// handler runs; auth_test.go tests that.)
func TestSettingsFormsNeedSignIn(t *testing.T) {
	srv, f := settingsFixture(t)
	h := srv.Handler()
	for _, target := range []string{"/settings/enroll-secrets", "/settings/enroll-secrets/revoke", "/settings/digest-recipients", "/settings/retention"} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", target, strings.NewReader("name=x&recipients=a@b.example&evidence=1d"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusSeeOther && rec.Code != http.StatusFound {
			t.Errorf("POST %s without a session: %d, want a redirect to sign in", target, rec.Code)
		}
	}
	ctx := context.Background()
	secrets, _ := f.store.EnrollSecrets(ctx)
	recipients, _ := f.store.DigestRecipients(ctx)
	override, _ := f.store.RetentionOverride(ctx)
	if len(secrets) != 0 || len(recipients) != 0 || override.Set() {
		t.Errorf("a POST without a session stored something: %v %v %+v", secrets, recipients, override)
	}
}

// TestEffectiveRetention: what the purge uses, beside the page's checks.
func TestEffectiveRetention(t *testing.T) {
	cfgE, cfgA := config.Days(90), config.Months(13)
	for _, tt := range []struct {
		o          collector.RetentionOverride
		ev, ag     string
		wantErrors bool
	}{
		{collector.RetentionOverride{}, "90d", "13mo", false},
		{collector.RetentionOverride{Evidence: "30d"}, "30d", "13mo", false},
		{collector.RetentionOverride{Aggregates: "2y"}, "90d", "2y", false},
		{collector.RetentionOverride{Evidence: "2y"}, "90d", "13mo", true},
		{collector.RetentionOverride{Evidence: "junk"}, "90d", "13mo", true},
	} {
		ev, ag, errs := EffectiveRetention(cfgE, cfgA, tt.o)
		if ev.String() != tt.ev || ag.String() != tt.ag || (len(errs) > 0) != tt.wantErrors {
			t.Errorf("EffectiveRetention(%+v) = %s, %s, %v; want %s, %s, errors %v", tt.o, ev, ag, errs, tt.ev, tt.ag, tt.wantErrors)
		}
	}
}
