package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
)

func TestPeoplePages(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	tests := []struct {
		target string
		want   []string
		absent []string
	}{
		{"/people", []string{`href="/people/ann@acme.example"`, "bob@acme.example", `href="/apps/slack"`}, nil},
		{"/people?q=ANN", []string{"ann@acme.example"}, []string{"bob@acme.example"}},
		{"/people?q=" + strings.ReplaceAll(hostileScript, "<", "%3C"), []string{"Nobody matches", "&lt;script&gt;"}, []string{"ann@acme.example"}},
	}
	for _, tt := range tests {
		rec := f.call(t, f.srv.peoplePage, "GET", tt.target, nil, nil)
		body := checkPage(t, tt.target, rec)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", tt.target, rec.Code)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tt.target, w)
			}
		}
		for _, a := range tt.absent {
			if strings.Contains(body, a) {
				t.Errorf("%s shows %q", tt.target, a)
			}
		}
	}

	rec := f.call(t, f.srv.personPage, "GET", "/people/Ann@acme.example", map[string]string{"email": "Ann@acme.example"}, nil)
	body := checkPage(t, "person page", rec)
	for _, w := range []string{"<h1>ann@acme.example</h1>", `href="/devices/dev-ann"`, "ann-mbp&lt;script&gt;", `href="/apps/slack"`,
		"gmail.readonly", "Tiny tool&#34;&#39;&gt;", "not in the catalog", "DNS lookup"} {
		if !strings.Contains(body, w) {
			t.Errorf("person page lacks %q", w)
		}
	}
	for _, email := range []string{"nobody@acme.example", "", strings.Repeat("a", 400)} {
		rec := f.call(t, f.srv.personPage, "GET", "/people/x", map[string]string{"email": email}, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("person %q: %d, want 404", email, rec.Code)
		}
	}
}

func TestPeoplePaging(t *testing.T) {
	f := newPageFixture(t)
	ctx := context.Background()
	var ev []collector.Evidence
	for i := range 250 {
		p := fmt.Sprintf("p%03d@acme.example", i)
		ev = append(ev, collector.Evidence{AppID: "slack", Source: collector.SourceSSOLogin, Person: p, Day: "2026-11-24",
			FirstSeen: fixtureNow.Add(-time.Hour), LastSeen: fixtureNow.Add(-time.Hour), Count: 1, DedupeKey: "sso:" + p})
	}
	if _, err := f.store.AddEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target      string
		first, last string
		prev, next  string
	}{
		{"/people", "p000@", "p099@", "", `href="/people?page=2"`},
		{"/people?page=2", "p100@", "p199@", `href="/people?page=1"`, `href="/people?page=3"`},
		{"/people?page=99", "p200@", "p249@", `href="/people?page=2"`, ""},
		{"/people?page=-1", "p000@", "p099@", "", `href="/people?page=2"`},
		{"/people?q=ACME&page=3", "p200@", "p249@", `href="/people?page=2&amp;q=ACME"`, ""},
	}
	for _, tt := range tests {
		body := checkPage(t, tt.target, f.call(t, f.srv.peoplePage, "GET", tt.target, nil, nil))
		for _, w := range []string{tt.first, tt.last, tt.prev, tt.next} {
			if w != "" && !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tt.target, w)
			}
		}
		if tt.next == "" && strings.Contains(body, `rel="next"`) {
			t.Errorf("%s links a next page past the end", tt.target)
		}
	}
}

func TestDevicesPage(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	rec := f.call(t, f.srv.devicesPage, "GET", "/devices", nil, nil)
	body := checkPage(t, "agents page", rec)
	for _, w := range []string{"2 enrolled", "1 silent", "no check-in for 7 days", `class="silent"`, "ann-mbp&lt;script&gt;",
		"1,234,567", "en0", "&#34;&#39;&gt;&lt;img", `href="/people/bob@acme.example"`, "0.9.0"} {
		if !strings.Contains(body, w) {
			t.Errorf("agents page lacks %q", w)
		}
	}
	// Silent agents come first.
	if strings.Index(body, "old-pc") > strings.Index(body, "ann-mbp") {
		t.Error("the silent agent is not listed first")
	}
	body = checkPage(t, "silent agents", f.call(t, f.srv.devicesPage, "GET", "/devices?silent=1", nil, nil))
	if !strings.Contains(body, "old-pc") || strings.Contains(body, `href="/devices/dev-ann"`) {
		t.Error("the silent filter does not keep only silent agents")
	}
	body = checkPage(t, "agent search", f.call(t, f.srv.devicesPage, "GET", "/devices?q=ANN", nil, nil))
	if !strings.Contains(body, `href="/devices/dev-ann"`) || strings.Contains(body, "old-pc") {
		t.Error("the search does not find by hostname")
	}

	rec = f.call(t, f.srv.devicePage, "GET", "/devices/dev-old", map[string]string{"id": "dev-old"}, nil)
	body = checkPage(t, "agent page", rec)
	for _, w := range []string{"<h1>old-pc</h1>", "Silent: no check-in since 2026-11-15", "stopped", `href="/apps/slack"`} {
		if !strings.Contains(body, w) {
			t.Errorf("agent page lacks %q", w)
		}
	}
	for _, id := range []string{"nope", "", strings.Repeat("d", 300)} {
		if rec := f.call(t, f.srv.devicePage, "GET", "/devices/x", map[string]string{"id": id}, nil); rec.Code != http.StatusNotFound {
			t.Errorf("device %q: %d, want 404", id, rec.Code)
		}
	}
}

func TestIsSilent(t *testing.T) {
	now := fixtureNow
	tests := []struct {
		name string
		d    collector.Device
		want bool
	}{
		{"checked in today", collector.Device{LastSeenAt: now.Add(-time.Hour)}, false},
		{"six days", collector.Device{LastSeenAt: now.Add(-6 * 24 * time.Hour)}, false},
		{"seven days", collector.Device{LastSeenAt: now.Add(-7 * 24 * time.Hour)}, true},
		{"never checked in, enrolled long ago", collector.Device{EnrolledAt: now.Add(-30 * 24 * time.Hour)}, true},
		{"never checked in, enrolled today", collector.Device{EnrolledAt: now.Add(-time.Hour)}, false},
		{"revoked", collector.Device{Revoked: true, LastSeenAt: now.Add(-90 * 24 * time.Hour)}, false},
	}
	for _, tt := range tests {
		if got := isSilent(tt.d, now); got != tt.want {
			t.Errorf("%s: isSilent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDevicesPageSize(t *testing.T) {
	f := newPageFixture(t)
	ctx := context.Background()
	for i := range 1200 {
		id := fmt.Sprintf("dev-%04d", i)
		d := collector.Device{ID: id, Hostname: "host-" + id + "-" + strings.Repeat("x", 30), OS: "darwin", OSVersion: "15.1", Arch: "arm64",
			AgentVersion: "1.0.0", OwnerEmail: fmt.Sprintf("person%04d@acme.example", i), EnrolledAt: fixtureNow.Add(-time.Hour)}
		d.Health = collector.Health{CaptureState: "running", LastError: strings.Repeat("e", 80), Interfaces: []string{"en0", "utun3"}}
		if err := f.store.CreateDevice(ctx, d, []byte("hash-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	rec := f.call(t, f.srv.devicesPage, "GET", "/devices?page=3", nil, nil)
	body := checkPage(t, "agents page 3", rec)
	t.Logf("agents page of %d agents: %d bytes", devicesPerPage, len(body))
	if !strings.Contains(body, "401–600 of 1,200") {
		t.Error("page 3 does not say which rows it shows")
	}
}

func TestSourcesPage(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	rec := f.call(t, f.srv.sourcesPage, "GET", "/sources", nil, nil)
	body := checkPage(t, "sources page", rec)
	for _, w := range []string{"google", "okta", "401 from Okta&lt;script&gt;", `class="failing"`,
		"IdP apps (2, 1 not mapped to a catalog app)", "Intranet&lt;script&gt;", "not mapped", `href="/apps/slack"`,
		"Unknown OAuth clients (1)", "Tiny tool&#34;&#39;&gt;&lt;img"} {
		if !strings.Contains(body, w) {
			t.Errorf("sources page lacks %q", w)
		}
	}
	if strings.Index(body, "Intranet") > strings.Index(body, "Slack SSO") {
		t.Error("unmapped IdP apps are not listed first")
	}
}

func TestSettingsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.File = "/etc/shadowmap/shadowmap.yaml"
	cfg.EnrollSecrets = []config.EnrollSecret{
		{Name: "laptops-2026", Secret: "enroll-SECRET-value-1", SecretFile: "/etc/shadowmap/enroll"},
		{Name: "old" + hostileScript, Secret: "enroll-SECRET-value-2", Revoked: true},
	}
	cfg.AdminTokens = []config.AdminToken{{Name: "ci", Token: "admin-TOKEN-value", TokenFile: "/etc/shadowmap/admin-token"}}
	cfg.Sources.Okta = config.Okta{URL: "https://acme.okta.com", Token: "okta-TOKEN-value"}
	cfg.Sources.Google = config.Google{CredentialsFile: "/etc/shadowmap/google.json", AdminEmail: "admin@acme.example"}
	cfg.Sources.Mail.Mailboxes = []config.Mailbox{{Name: "ap", Host: "imap.acme.example", Port: 993, TLS: "implicit", Auth: "plain",
		Username: "ap@acme.example", Password: "mail-PASSWORD-value", PasswordFile: "/etc/shadowmap/imap-pass"}}
	v := SettingsFromConfig(cfg)

	s, err := New(Options{Settings: func() SettingsView { return v }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.settingsPage(rec, httptest.NewRequest("GET", "/settings", nil), testSession)
	body := checkPage(t, "settings page", rec)
	for _, secret := range []string{"SECRET-value", "TOKEN-value", "PASSWORD-value"} {
		if strings.Contains(body, secret) || strings.Contains(fmt.Sprintf("%+v", v), secret) {
			t.Errorf("the settings page shows a secret value (%s)", secret)
		}
	}
	for _, w := range []string{"read-only", "/etc/shadowmap/shadowmap.yaml", "laptops-2026", "file /etc/shadowmap/enroll",
		"old&lt;script&gt;", "revoked", "ci", "/etc/shadowmap/google.json", "acting as admin@acme.example",
		"https://acme.okta.com", "written inline in the configuration file", "/etc/shadowmap/imap-pass",
		"90d", "13mo", "<code>unknown_domain_k</code>", "3 devices saw them", "not configured"} {
		if !strings.Contains(body, w) {
			t.Errorf("settings page lacks %q", w)
		}
	}
}

// TestPagesNeedSignIn: every page of this part is behind the sign-in, and
// none shows data to a request without a session.
func TestPagesNeedSignIn(t *testing.T) {
	f := newPageFixture(t)
	f.fill(t)
	h := f.srv.Handler()
	for _, target := range []string{"/apps/slack", "/people", "/people/ann@acme.example", "/devices", "/devices/dev-ann", "/sources", "/settings"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusSeeOther && rec.Code != http.StatusFound {
			t.Errorf("GET %s without a session: %d, want a redirect to sign in", target, rec.Code)
		}
		if body := rec.Body.String(); strings.Contains(body, "bob@acme.example") || strings.Contains(body, "ann-mbp") || strings.Contains(body, "Slack Technologies") {
			t.Errorf("GET %s without a session shows data", target)
		}
	}
	for _, target := range []string{"/apps/slack/status", "/apps/slack/notes"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", target, strings.NewReader("status=approved&why=x")))
		if rec.Code == http.StatusOK || rec.Code == http.StatusSeeOther && !strings.HasPrefix(rec.Header().Get("Location"), "/signin") {
			t.Errorf("POST %s without a session: %d to %q", target, rec.Code, rec.Header().Get("Location"))
		}
	}
	if hist, _ := f.store.StatusHistory(context.Background(), "slack"); len(hist) != 0 {
		t.Errorf("a POST without a session recorded %+v", hist)
	}
}
