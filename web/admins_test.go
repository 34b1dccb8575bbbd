package web

import (
	"bytes"
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

// Admins page tests: the real SQLite store and sessions of newAuthFixture,
// driven through the Server's handler by cookie-keeping browsers.

const (
	otherAdminEmail    = "bob@example.com"
	otherAdminPassword = "bob's long enough password"
)

// syncBuffer is a log sink the handlers may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// adminsFixture is newAuthFixture with a second admin, bob, and a log
// the test reads.
func adminsFixture(t *testing.T) (*authFixture, *syncBuffer) {
	t.Helper()
	f := newAuthFixture(t, false, false)
	logs := &syncBuffer{}
	f.srv.log = slog.New(slog.NewTextHandler(logs, nil))
	if err := CreateAdmin(context.Background(), f.store, otherAdminEmail, otherAdminPassword, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return f, logs
}

func TestAdminsPageLists(t *testing.T) {
	t.Parallel()
	f, _ := adminsFixture(t)
	// An email the web forms would refuse, stored another way (an
	// identity provider's claim): the page must still escape it.
	hostile := `x` + hostileScript + `@example.com`
	if err := f.store.CreateAccount(context.Background(), collector.Account{Email: hostile, PasswordHash: "$argon2id$x", CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	b := f.authBrowser(t, "192.0.2.1:4000")
	b.sessionCSRF()
	rec := b.get("/settings/admins")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("admins page: %d\n%s", rec.Code, body)
	}
	for _, want := range []string{authTestEmail, otherAdminEmail, "(you)", html.EscapeString(strings.ToLower(hostile)), `action="/settings/admins/remove"`} {
		if !strings.Contains(body, want) {
			t.Errorf("admins page lacks %q", want)
		}
	}
	if strings.Contains(body, hostileScript) || strings.Contains(strings.ToLower(body), strings.ToLower(hostileScript)) {
		t.Errorf("admins page carries the hostile email unescaped:\n%s", body)
	}
	// Your own row has no remove form.
	if strings.Contains(body, `name="email" value="`+authTestEmail+`"`) {
		t.Error("the signed-in admin's row offers to remove them")
	}
	// The settings page links here.
	if rec := b.get("/settings"); !strings.Contains(rec.Body.String(), `href="/settings/admins"`) {
		t.Errorf("settings page (%d) does not link to the admins page", rec.Code)
	}
	// Signed out: the sign-in page.
	if rec := f.authBrowser(t, "192.0.2.2:4000").get("/settings/admins"); rec.Code != http.StatusSeeOther {
		t.Errorf("admins page signed out: %d, want 303 to sign-in", rec.Code)
	}
}

func TestAdminsFormsNeedCSRF(t *testing.T) {
	t.Parallel()
	f, _ := adminsFixture(t)
	b := f.authBrowser(t, "192.0.2.1:4000")
	token := b.sessionCSRF()
	tests := []struct {
		path string
		form url.Values
	}{
		{"/settings/admins", url.Values{"email": {"new@example.com"}}},
		{"/settings/admins", url.Values{"email": {"new@example.com"}, "csrf": {token + "x"}}},
		{"/settings/admins/remove", url.Values{"email": {otherAdminEmail}, "confirm": {otherAdminEmail}}},
		{"/settings/admins/remove", url.Values{"email": {otherAdminEmail}, "confirm": {otherAdminEmail}, "csrf": {""}}},
	}
	for _, tt := range tests {
		if rec := b.post(tt.path, tt.form); rec.Code != http.StatusForbidden {
			t.Errorf("POST %s %v: %d, want 403", tt.path, tt.form, rec.Code)
		}
	}
	list, err := f.store.ListAccounts(context.Background())
	if err != nil || len(list) != 2 {
		t.Errorf("admins after refused forms: %+v, %v; want the two unchanged", list, err)
	}
}

func TestRemoveAdmin(t *testing.T) {
	t.Parallel()
	f, logs := adminsFixture(t)
	ctx := context.Background()
	it := f.authBrowser(t, "192.0.2.1:4000")
	token := it.sessionCSRF()
	bob := f.authBrowser(t, "192.0.2.9:4000")
	if rec := bob.signIn(otherAdminEmail, otherAdminPassword, "/"); rec.Code != http.StatusSeeOther {
		t.Fatalf("bob's sign-in: %d", rec.Code)
	}
	bobSignedIn := func() bool {
		t.Helper()
		return bob.get("/test-private").Code == http.StatusOK
	}
	if !bobSignedIn() {
		t.Fatal("bob is not signed in")
	}

	refusals := []struct {
		name    string
		form    url.Values
		status  int
		message string
	}{
		{"yourself", url.Values{"email": {authTestEmail}, "confirm": {authTestEmail}}, http.StatusUnprocessableEntity, "cannot remove yourself"},
		{"no confirmation", url.Values{"email": {otherAdminEmail}}, http.StatusUnprocessableEntity, "Type the admin"},
		{"wrong confirmation", url.Values{"email": {otherAdminEmail}, "confirm": {"bo@example.com"}}, http.StatusUnprocessableEntity, "Type the admin"},
		{"unknown admin", url.Values{"email": {"nobody@example.com"}, "confirm": {"nobody@example.com"}}, http.StatusNotFound, ""},
	}
	for _, tt := range refusals {
		tt.form.Set("csrf", token)
		rec := it.post("/settings/admins/remove", tt.form)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.message) {
			t.Errorf("%s: %d, want %d with %q\n%s", tt.name, rec.Code, tt.status, tt.message, rec.Body)
		}
	}
	if !bobSignedIn() {
		t.Fatal("a refused remove signed bob out")
	}
	if _, err := f.store.Account(ctx, authTestEmail); err != nil {
		t.Fatalf("removing yourself was not refused: %v", err)
	}

	rec := it.post("/settings/admins/remove", url.Values{"csrf": {token}, "email": {otherAdminEmail}, "confirm": {" BOB@example.com "}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/settings/admins?saved=removed" {
		t.Fatalf("remove bob: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if bobSignedIn() {
		t.Error("bob's session cookie still works after his removal")
	}
	if rec := bob.signIn(otherAdminEmail, otherAdminPassword, "/"); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("bob's sign-in after removal: %d, want 422", rec.Code)
	}
	if _, err := f.store.Account(ctx, otherAdminEmail); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("bob's account: %v, want ErrNotFound", err)
	}
	page := it.get("/settings/admins?saved=removed").Body.String()
	if strings.Contains(page, otherAdminEmail) || !strings.Contains(page, "Admin removed") {
		t.Errorf("admins page after removal:\n%s", page)
	}
	if !strings.Contains(logs.String(), `msg="web: admin removed" email=bob@example.com by=it@example.com`) {
		t.Errorf("the removal is not logged with who did it:\n%s", logs)
	}

	// Now the only admin: still cannot remove themselves.
	rec = it.post("/settings/admins/remove", url.Values{"csrf": {token}, "email": {authTestEmail}, "confirm": {authTestEmail}})
	if rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("removing the last admin: %d, want 422", rec.Code)
	}
	if has, err := f.store.HasAccounts(ctx); err != nil || !has {
		t.Errorf("no admin left: %v, %v", has, err)
	}
}

var newAdminPassword = regexp.MustCompile(`<p><code>([A-Z2-7]{26})</code></p>`)

func TestAddAdmin(t *testing.T) {
	t.Parallel()
	f, logs := adminsFixture(t)
	it := f.authBrowser(t, "192.0.2.1:4000")
	token := it.sessionCSRF()

	refusals := []struct {
		name, email, message string
	}{
		{"empty", "", "Enter an email address."},
		{"not an email", "carol at example", "plain email address"},
		{"hostile", hostileAttr + "@example.com", "plain email address"},
		{"exists", "BOB@example.com", "exists already"},
	}
	for _, tt := range refusals {
		rec := it.post("/settings/admins", url.Values{"csrf": {token}, "email": {tt.email}})
		body := rec.Body.String()
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tt.message) {
			t.Errorf("%s: %d, want 422 with %q\n%s", tt.name, rec.Code, tt.message, body)
		}
		if strings.Contains(body, hostileAttr) {
			t.Errorf("%s: the typed email is echoed unescaped", tt.name)
		}
	}
	if list, _ := f.store.ListAccounts(context.Background()); len(list) != 2 {
		t.Fatalf("refused adds changed the admins: %+v", list)
	}

	rec := it.post("/settings/admins", url.Values{"csrf": {token}, "email": {" Carol@Example.com "}})
	body := rec.Body.String()
	m := newAdminPassword.FindStringSubmatch(body)
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("add carol: %d, no password shown\n%s", rec.Code, body)
	}
	password := m[1]
	if len(password) < MinPasswordLength || !strings.Contains(body, "carol@example.com") {
		t.Errorf("add carol: password %q, page\n%s", password, body)
	}
	carol := f.authBrowser(t, "192.0.2.7:4000")
	if rec := carol.signIn("carol@example.com", password, "/"); rec.Code != http.StatusSeeOther {
		t.Errorf("carol's sign-in with the shown password: %d", rec.Code)
	}
	// Shown once: the page does not carry it again.
	if page := it.get("/settings/admins").Body.String(); strings.Contains(page, password) || !strings.Contains(page, "carol@example.com") {
		t.Errorf("admins page after the add:\n%s", page)
	}
	log := logs.String()
	if !strings.Contains(log, `msg="web: admin added" email=carol@example.com by=it@example.com`) {
		t.Errorf("the add is not logged with who did it:\n%s", log)
	}
	if strings.Contains(log, password) {
		t.Error("the log carries the new admin's password")
	}
}
