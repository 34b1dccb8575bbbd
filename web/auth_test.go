package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
)

// Sign-in tests: the real SQLite store, a fake clock, and a small
// cookie-keeping browser over the Server's handler.

const (
	authTestEmail    = "it@example.com"
	authTestPassword = "correct horse battery staple"
)

// authClock is a clock the tests move by hand.
type authClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *authClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type authFixture struct {
	srv   *Server
	store *sqlite.Store
	clock *authClock
}

// newAuthFixture builds a Server on a fresh SQLite store with one admin
// (authTestEmail) unless noAdmin, and a private page at /test-private that
// echoes the session.
func newAuthFixture(t *testing.T, secure, noAdmin bool) *authFixture {
	t.Helper()
	ctx := context.Background()
	clock := &authClock{now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	store := openTestStore(t, clock.Now)
	srv, err := New(Options{Accounts: store, Now: clock.Now, Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	srv.mux.HandleFunc("/test-private", srv.signedIn(func(w http.ResponseWriter, r *http.Request, sess session) {
		fmt.Fprintf(w, "private page of %s, %s", sess.Email, r.Method)
	}))
	if !noAdmin {
		if err := CreateAdmin(ctx, store, authTestEmail, authTestPassword, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return &authFixture{srv: srv, store: store, clock: clock}
}

// authBrowser keeps cookies between requests, like a browser of one site.
type authBrowser struct {
	t       *testing.T
	h       http.Handler
	remote  string
	cookies map[string]*http.Cookie
}

func (f *authFixture) authBrowser(t *testing.T, remote string) *authBrowser {
	return &authBrowser{t: t, h: f.srv.Handler(), remote: remote, cookies: map[string]*http.Cookie{}}
}

func (b *authBrowser) do(req *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	req.RemoteAddr = b.remote
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

func (b *authBrowser) get(path string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

func (b *authBrowser) post(path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var authCSRFField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// authFormCSRF is the csrf field of the page's form.
func authFormCSRF(t *testing.T, body string) string {
	t.Helper()
	m := authCSRFField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", body)
	}
	return m[1]
}

// signIn fills in the sign-in form and returns the answer to the POST.
func (b *authBrowser) signIn(email, password, next string) *httptest.ResponseRecorder {
	b.t.Helper()
	page := b.get("/signin")
	return b.post("/signin", url.Values{
		"csrf": {authFormCSRF(b.t, page.Body.String())}, "email": {email}, "password": {password}, "next": {next},
	})
}

// sessionCSRF signs in as the test admin and returns the session's CSRF
// token, read from the sign-out form of a signed-in page.
func (b *authBrowser) sessionCSRF() string {
	b.t.Helper()
	if rec := b.signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d\n%s", rec.Code, rec.Body)
	}
	// The refused-form page is a signed-in page that needs no inventory.
	rec := b.post("/test-private", url.Values{"csrf": {"wrong"}})
	if rec.Code != http.StatusForbidden {
		b.t.Fatalf("POST with a wrong token: %d", rec.Code)
	}
	return authFormCSRF(b.t, rec.Body.String())
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	tests := []struct {
		name, email, password string
		status                int
		want                  string
	}{
		{"wrong password", authTestEmail, "not the password", http.StatusUnprocessableEntity, "do not match an admin account"},
		{"unknown email", "nobody@example.com", authTestPassword, http.StatusUnprocessableEntity, "do not match an admin account"},
		{"empty password", authTestEmail, "", http.StatusUnprocessableEntity, "Enter your email and your password"},
		{"too long password", authTestEmail, strings.Repeat("x", 2000), http.StatusUnprocessableEntity, "do not match an admin account"},
		{"other case email", "IT@Example.COM", authTestPassword, http.StatusSeeOther, ""},
		{"success", authTestEmail, authTestPassword, http.StatusSeeOther, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case from its own address: the rate limit is tested apart.
			b := f.authBrowser(t, fmt.Sprintf("192.0.2.%d:4000", i+1))
			rec := b.signIn(tt.email, tt.password, "/apps?sort=people")
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("status %d, want %d with %q\n%s", rec.Code, tt.status, tt.want, rec.Body)
			}
			if tt.status != http.StatusSeeOther {
				if b.cookies[sessionCookieName] != nil {
					t.Error("a failed sign-in set a session cookie")
				}
				if tt.email != "" && !strings.Contains(rec.Body.String(), `value="`+strings.ToLower(tt.email)+`"`) {
					t.Error("the form lost the email typed")
				}
				return
			}
			if loc := rec.Header().Get("Location"); loc != "/apps?sort=people" {
				t.Errorf("redirect to %q, want the page asked for", loc)
			}
			page := b.get("/test-private")
			if page.Code != http.StatusOK || page.Body.String() != "private page of it@example.com, GET" {
				t.Errorf("private page after sign-in: %d %q", page.Code, page.Body)
			}
			if cc := page.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("private page Cache-Control %q, want no-store", cc)
			}
			// A signed-in visit to /signin goes on to the page asked for.
			if rec := b.get("/signin?next=/apps"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/apps" {
				t.Errorf("GET /signin when signed in: %d to %q", rec.Code, rec.Header().Get("Location"))
			}
		})
	}
}

func TestSignedOutRedirect(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	b := f.authBrowser(t, "192.0.2.1:4000")
	rec := b.get("/test-private?q=a%20b")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin?next=%2Ftest-private%3Fq%3Da%2520b" {
		t.Fatalf("signed-out GET: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = b.post("/test-private", url.Values{"csrf": {"x"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
		t.Fatalf("signed-out POST: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	b.cookies[sessionCookieName] = &http.Cookie{Name: sessionCookieName, Value: strings.Repeat("A", 43)}
	if rec := b.get("/test-private"); rec.Code != http.StatusSeeOther {
		t.Fatalf("made-up session token: %d", rec.Code)
	}
	if b.cookies[sessionCookieName] != nil {
		t.Error("the made-up session cookie was not cleared")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			f := newAuthFixture(t, secure, false)
			b := f.authBrowser(t, "192.0.2.1:4000")
			if rec := b.signIn(authTestEmail, authTestPassword, ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Fatalf("sign-in: %d to %q", rec.Code, rec.Header().Get("Location"))
			}
			name, formName := sessionCookieName, formCookieName
			if secure {
				name, formName = "__Host-"+name, "__Host-"+formName
			}
			c := b.cookies[name]
			if c == nil {
				t.Fatalf("no %s cookie; have %v", name, b.cookies)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure || c.Domain != "" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, Secure=%v, no Domain", c, secure)
			}
			if len(c.Value) != 43 {
				t.Errorf("session token %q is not 32 bytes of base64url", c.Value)
			}
			fc := b.cookies[formName]
			if fc == nil || !fc.HttpOnly || fc.SameSite != http.SameSiteStrictMode || fc.Secure != secure {
				t.Errorf("form cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v", fc, secure)
			}
			if rec := b.get("/test-private"); rec.Code != http.StatusOK {
				t.Errorf("private page: %d", rec.Code)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	tests := []struct{ next, want string }{
		{"/apps", "/apps"},
		{"/apps/slack?tab=people#grants", "/apps/slack?tab=people#grants"},
		{"", "/"},
		{"apps", "/"},
		{"//evil.example", "/"},
		{"//evil.example/apps", "/"},
		{"https://evil.example", "/"},
		{"https://evil.example/apps", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/%0a/evil.example", "/%0a/evil.example"}, // stays a path on this site
		{"javascript:alert(1)", "/"},
		{"/signin", "/"},
		{"/signout", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.next); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}

func TestSignInRedirectSafety(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	for i, next := range []string{"//evil.example", "https://evil.example", "/\\evil.example", "https:/evil.example"} {
		b := f.authBrowser(t, fmt.Sprintf("192.0.2.%d:4000", i+1))
		rec := b.signIn(authTestEmail, authTestPassword, next)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
			t.Errorf("next=%q: %d to %q, want / ", next, rec.Code, rec.Header().Get("Location"))
		}
	}
	// The next field of the form is refused on GET too.
	b := f.authBrowser(t, "192.0.2.100:4000")
	rec := b.get("/signin?next=//evil.example")
	if strings.Contains(rec.Body.String(), "evil.example") {
		t.Errorf("the sign-in page carries the foreign next:\n%s", rec.Body)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	b := f.authBrowser(t, "192.0.2.1:4000")
	token := b.sessionCSRF()
	tests := []struct {
		name   string
		form   url.Values
		header string
		status int
	}{
		{"missing", url.Values{}, "", http.StatusForbidden},
		{"empty", url.Values{"csrf": {""}}, "", http.StatusForbidden},
		{"wrong", url.Values{"csrf": {token[:len(token)-1] + "x"}}, "", http.StatusForbidden},
		{"right", url.Values{"csrf": {token}}, "", http.StatusOK},
		{"right header", url.Values{}, token, http.StatusOK},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/test-private", strings.NewReader(tt.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tt.header != "" {
			req.Header.Set("X-CSRF-Token", tt.header)
		}
		rec := b.do(req)
		if rec.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.status)
		}
		if tt.status == http.StatusForbidden && !strings.Contains(rec.Body.String(), "Nothing was changed") {
			t.Errorf("%s: the 403 page does not say what happened:\n%s", tt.name, rec.Body)
		}
	}
	for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if rec := b.do(httptest.NewRequest(method, "/test-private", nil)); rec.Code != http.StatusForbidden {
			t.Errorf("%s without a token: %d, want 403", method, rec.Code)
		}
	}

	// The sign-in form itself: without its cookie-bound token, refused.
	other := f.authBrowser(t, "192.0.2.2:4000")
	rec := other.post("/signin", url.Values{"email": {authTestEmail}, "password": {authTestPassword}})
	if rec.Code != http.StatusForbidden || other.cookies[sessionCookieName] != nil {
		t.Errorf("sign-in without a form token: %d, want 403 and no session", rec.Code)
	}
	page := other.get("/signin")
	rec = other.post("/signin", url.Values{"csrf": {authFormCSRF(t, page.Body.String()) + "x"}, "email": {authTestEmail}, "password": {authTestPassword}})
	if rec.Code != http.StatusForbidden {
		t.Errorf("sign-in with a wrong form token: %d, want 403", rec.Code)
	}
}

func TestSignInRateLimit(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	attempt := func(b *authBrowser, email string) *httptest.ResponseRecorder {
		return b.signIn(email, "wrong password", "/")
	}

	// Per client address, whatever the account.
	b := f.authBrowser(t, "192.0.2.1:4000")
	for i := range signinBurst {
		if rec := attempt(b, fmt.Sprintf("user%d@example.com", i)); rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("attempt %d: %d", i+1, rec.Code)
		}
	}
	rec := attempt(b, "another@example.com")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "12" ||
		!strings.Contains(rec.Body.String(), "Too many sign-in attempts. Wait 12 seconds") {
		t.Fatalf("attempt 6 from one address: %d, Retry-After %q\n%s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// Even the right password waits: the limit counts attempts.
	if rec := b.signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("right password while limited: %d", rec.Code)
	}
	f.clock.Advance(12 * time.Second)
	if rec := b.signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusSeeOther {
		t.Errorf("right password after waiting: %d", rec.Code)
	}

	// Per account, whatever the address: a botnet guessing one password.
	for i := range signinBurst {
		if rec := attempt(f.authBrowser(t, fmt.Sprintf("198.51.100.%d:4000", i+1)), "target@example.com"); rec.Code != http.StatusUnprocessableEntity {
			t.Fatalf("account attempt %d: %d", i+1, rec.Code)
		}
	}
	rec = attempt(f.authBrowser(t, "198.51.100.200:4000"), "TARGET@example.com")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt 6 on one account: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}

	// IPv6 clients are limited by their /64.
	for i := range signinBurst {
		attempt(f.authBrowser(t, fmt.Sprintf("[2001:db8::%x]:4000", i+1)), fmt.Sprintf("v6-%d@example.com", i))
	}
	if rec := attempt(f.authBrowser(t, "[2001:db8::ffff]:4000"), "v6-x@example.com"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("sixth attempt from the same /64: %d", rec.Code)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		f := newAuthFixture(t, false, false)
		b := f.authBrowser(t, "192.0.2.1:4000")
		b.signIn(authTestEmail, authTestPassword, "/")
		for range 3 { // each visit restarts the idle clock
			f.clock.Advance(11 * time.Hour)
			if rec := b.get("/test-private"); rec.Code != http.StatusOK {
				t.Fatalf("visit 11 h after the last: %d", rec.Code)
			}
		}
		f.clock.Advance(12 * time.Hour)
		if rec := b.get("/test-private"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/signin?next=") {
			t.Fatalf("visit 12 h after the last: %d to %q, want sign-in", rec.Code, rec.Header().Get("Location"))
		}
		if b.cookies[sessionCookieName] != nil {
			t.Error("the expired session's cookie was not cleared")
		}
	})
	t.Run("absolute", func(t *testing.T) {
		f := newAuthFixture(t, false, false)
		b := f.authBrowser(t, "192.0.2.1:4000")
		b.signIn(authTestEmail, authTestPassword, "/")
		cookie := *b.cookies[sessionCookieName]
		for elapsed := 10 * time.Hour; elapsed < 7*24*time.Hour; elapsed += 10 * time.Hour {
			f.clock.Advance(10 * time.Hour)
			if rec := b.get("/test-private"); rec.Code != http.StatusOK {
				t.Fatalf("visit %v after sign-in: %d", elapsed, rec.Code)
			}
		}
		f.clock.Advance(10 * time.Hour) // 170 h: past 7 days
		if rec := b.get("/test-private"); rec.Code != http.StatusSeeOther {
			t.Fatalf("visit past 7 days: %d, want a redirect to sign-in", rec.Code)
		}
		if _, err := f.store.Session(context.Background(), tokenHash(cookie.Value)); !errors.Is(err, collector.ErrNotFound) {
			t.Errorf("the expired session is still stored: %v", err)
		}
	})
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	b := f.authBrowser(t, "192.0.2.1:4000")
	token := b.sessionCSRF()
	old := *b.cookies[sessionCookieName]

	if rec := b.post("/signout", url.Values{"csrf": {"wrong"}}); rec.Code != http.StatusForbidden {
		t.Errorf("sign-out with a wrong token: %d, want 403", rec.Code)
	}
	if rec := b.get("/test-private"); rec.Code != http.StatusOK {
		t.Fatalf("still signed in after a refused sign-out: %d", rec.Code)
	}
	rec := b.post("/signout", url.Values{"csrf": {token}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
		t.Fatalf("sign-out: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if b.cookies[sessionCookieName] != nil {
		t.Error("sign-out left the session cookie")
	}
	// The old token is dead on the server, not just forgotten by the browser.
	b.cookies[sessionCookieName] = &old
	if rec := b.get("/test-private"); rec.Code != http.StatusSeeOther {
		t.Errorf("replayed session after sign-out: %d, want a redirect", rec.Code)
	}
	if rec := f.authBrowser(t, "192.0.2.9:4000").post("/signout", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("sign-out without a session: %d, want a redirect", rec.Code)
	}
}

func TestSetupLink(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, true)
	ctx := context.Background()
	first, err := f.srv.SetupLink(ctx, "http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	link, err := f.srv.SetupLink(ctx, "http://127.0.0.1:8080") // a restart: a new link
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:8080/setup\?token=[A-Za-z0-9_-]{43}$`).MatchString(link) || link == first {
		t.Fatalf("setup links %q then %q", first, link)
	}
	path := strings.TrimPrefix(link, "http://127.0.0.1:8080")
	token := strings.TrimPrefix(path, "/setup?token=")

	b := f.authBrowser(t, "192.0.2.1:4000")
	if rec := b.get(strings.TrimPrefix(first, "http://127.0.0.1:8080")); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "does not work") {
		t.Errorf("replaced link: %d", rec.Code)
	}
	page := b.get(path)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "Create the first admin") {
		t.Fatalf("setup page: %d\n%s", page.Code, page.Body)
	}
	csrf := authFormCSRF(t, page.Body.String())
	form := func(email, password, confirm string) url.Values {
		return url.Values{"csrf": {csrf}, "token": {token}, "email": {email}, "password": {password}, "confirm": {confirm}}
	}
	invalid := []struct {
		name string
		form url.Values
		want string
	}{
		{"short password", form("first@example.com", "short pass", "short pass"), "Use at least 12 characters."},
		{"different confirm", form("first@example.com", authTestPassword, authTestPassword+"!"), "The two passwords differ."},
		{"bad email", form("Name <first@example.com>", authTestPassword, authTestPassword), "Enter a plain email address"},
		{"no email", form("", authTestPassword, authTestPassword), "Enter an email address."},
	}
	for _, tt := range invalid {
		rec := b.post("/setup", tt.form)
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d, want 422 with %q\n%s", tt.name, rec.Code, tt.want, rec.Body)
		}
	}
	noCSRF := form("first@example.com", authTestPassword, authTestPassword)
	noCSRF.Del("csrf")
	if rec := b.post("/setup", noCSRF); rec.Code != http.StatusForbidden {
		t.Errorf("setup without a form token: %d, want 403", rec.Code)
	}
	if has, _ := f.store.HasAccounts(ctx); has {
		t.Fatal("a refused setup created an admin")
	}

	rec := b.post("/setup", form("First@Example.com", authTestPassword, authTestPassword))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("setup: %d to %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if rec := b.get("/test-private"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "first@example.com") {
		t.Errorf("not signed in after setup: %d %q", rec.Code, rec.Body)
	}
	// The link is spent.
	if rec := b.get(path); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "An admin account exists already") {
		t.Errorf("setup link after use: %d\n%s", rec.Code, rec.Body)
	}
	if rec := f.authBrowser(t, "192.0.2.2:4000").post("/setup", form("second@example.com", authTestPassword, authTestPassword)); rec.Code != http.StatusNotFound {
		t.Errorf("second setup: %d, want 404", rec.Code)
	}
	if _, err := f.store.Account(ctx, "second@example.com"); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("second setup created an account: %v", err)
	}
	if link, err := f.srv.SetupLink(ctx, "http://127.0.0.1:8080"); err != nil || link != "" {
		t.Errorf("SetupLink with an admin = %q, %v; want none", link, err)
	}
	if rec := f.authBrowser(t, "192.0.2.3:4000").signIn("first@example.com", authTestPassword, "/"); rec.Code != http.StatusSeeOther {
		t.Errorf("sign-in as the admin made by setup: %d", rec.Code)
	}
}

func TestSetupLinkExpires(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, true)
	link, err := f.srv.SetupLink(context.Background(), "http://shadowmap.internal")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(link, "http://shadowmap.internal")
	b := f.authBrowser(t, "192.0.2.1:4000")
	f.clock.Advance(23 * time.Hour)
	if rec := b.get(path); rec.Code != http.StatusOK {
		t.Fatalf("link after 23 h: %d", rec.Code)
	}
	f.clock.Advance(time.Hour)
	if rec := b.get(path); rec.Code != http.StatusNotFound {
		t.Errorf("link after 24 h: %d, want 404", rec.Code)
	}
	for _, bad := range []string{"/setup", "/setup?token=", "/setup?token=%3Cscript%3E"} {
		if rec := b.get(bad); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, rec.Code)
		}
	}
}

func TestAuthPagesEscape(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, false)
	b := f.authBrowser(t, "192.0.2.1:4000")
	evil := `"'><img src=x onerror=alert(1)><script>alert(1)</script>`
	rec := b.signIn(evil+"@example.com", "wrong password", "/apps?q="+url.QueryEscape(evil))
	body := rec.Body.String()
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", rec.Code)
	}
	for _, raw := range []string{"<script>alert", "<img src=x", `"'>`} {
		if strings.Contains(body, raw) {
			t.Errorf("page contains unescaped %q:\n%s", raw, body)
		}
	}
	if strings.Contains(body, "style=") || strings.Contains(body, "onclick=") {
		t.Error("inline style or handler in the sign-in page (the CSP forbids them)")
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	// The reference implementation's output:
	// echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32 -e
	const reference = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	fresh, err := HashPassword(authTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fresh, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("HashPassword = %q, want argon2id with m=64 MiB, t=3, p=4", fresh)
	}
	if again, _ := HashPassword(authTestPassword); again == fresh {
		t.Error("two hashes of one password are equal: no random salt")
	}
	tests := []struct {
		name, encoded, password string
		match                   bool
		bad                     bool
	}{
		{"reference", reference, "password", true, false},
		{"reference, wrong password", reference, "Password", false, false},
		{"fresh", fresh, authTestPassword, true, false},
		{"fresh, wrong password", fresh, authTestPassword + " ", false, false},
		{"fresh, empty password", fresh, "", false, false},
		{"argon2i", strings.Replace(reference, "argon2id", "argon2i", 1), "password", false, true},
		{"old version", strings.Replace(reference, "v=19", "v=16", 1), "password", false, true},
		{"huge memory", strings.Replace(reference, "m=65536", "m=99999999", 1), "password", false, true},
		{"zero time", strings.Replace(reference, "t=2", "t=0", 1), "password", false, true},
		{"padded salt", strings.Replace(reference, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1), "password", false, true},
		{"short key", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1a", "password", false, true},
		{"extra params", strings.Replace(reference, "p=1", "p=1,x=2", 1), "password", false, true},
		{"missing part", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ", "password", false, true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "password", false, true},
		{"empty", "", "password", false, true},
	}
	for _, tt := range tests {
		match, err := VerifyPassword(tt.encoded, tt.password)
		if match != tt.match || (err != nil) != tt.bad {
			t.Errorf("%s: match=%v err=%v; want match=%v, error=%v", tt.name, match, err, tt.match, tt.bad)
		}
	}
}

func TestCreateAdmin(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, true)
	ctx := context.Background()
	now := f.clock.Now()
	if err := CreateAdmin(ctx, f.store, "a@example.com", "eleven char", now); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: %v", err)
	}
	if err := CreateAdmin(ctx, f.store, "not an email", authTestPassword, now); err == nil {
		t.Error("bad email accepted")
	}
	if err := CreateAdmin(ctx, f.store, "A@example.com", authTestPassword, now); err != nil {
		t.Fatal(err)
	}
	if err := CreateAdmin(ctx, f.store, "a@EXAMPLE.com", authTestPassword, now); !errors.Is(err, collector.ErrAccountExists) {
		t.Errorf("duplicate email: %v, want ErrAccountExists", err)
	}
	acct, err := f.store.Account(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(acct.PasswordHash, authTestPassword); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v %v", ok, err)
	}
}

// raceStore runs race right before a CreateSession reaches the store: it
// stands for a `shadowmap admin password` or a removal that lands while a
// sign-in is still checking the password.
type raceStore struct {
	*sqlite.Store
	race func(ctx context.Context) error
	// tried is the token hash of every session asked for.
	tried [][]byte
}

func (s *raceStore) CreateSession(ctx context.Context, sess collector.Session) error {
	s.tried = append(s.tried, sess.TokenHash)
	if race := s.race; race != nil {
		s.race = nil // once: the browser's next try signs in undisturbed
		if err := race(ctx); err != nil {
			return err
		}
	}
	return s.Store.CreateSession(ctx, sess)
}

// raceServer is a Server over f's store wrapped in a raceStore.
func (f *authFixture) raceServer(t *testing.T) (*Server, *raceStore) {
	t.Helper()
	rs := &raceStore{Store: f.store}
	srv, err := New(Options{Accounts: rs, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv.mux.HandleFunc("/test-private", srv.signedIn(func(w http.ResponseWriter, r *http.Request, sess session) {
		fmt.Fprintf(w, "private page of %s", sess.Email)
	}))
	return srv, rs
}

func TestSignInRacesPasswordChange(t *testing.T) {
	t.Parallel()
	const newPassword = "a brand new admin password"
	tests := []struct {
		name string
		race func(ctx context.Context, f *authFixture) error
		// status and want describe the racing sign-in; after it the
		// browser signs in again with password.
		status   int
		want     string
		password string
	}{
		{"no race", nil, http.StatusSeeOther, "", authTestPassword},
		{"password reset", func(ctx context.Context, f *authFixture) error {
			hash, err := HashPassword(newPassword)
			if err != nil {
				return err
			}
			return f.store.SetPassword(ctx, authTestEmail, hash)
		}, http.StatusConflict, "was just changed", newPassword},
		{"account removed", func(ctx context.Context, f *authFixture) error {
			return f.store.DeleteAccount(ctx, authTestEmail)
		}, http.StatusConflict, "was just changed or the account removed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newAuthFixture(t, false, false)
			// Another admin, so the removal is allowed.
			if err := CreateAdmin(context.Background(), f.store, "other@example.com", authTestPassword, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			srv, rs := f.raceServer(t)
			if tt.race != nil {
				rs.race = func(ctx context.Context) error { return tt.race(ctx, f) }
			}
			b := &authBrowser{t: t, h: srv.Handler(), remote: "192.0.2.1:4000", cookies: map[string]*http.Cookie{}}
			rec := b.signIn(authTestEmail, authTestPassword, "/")
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("racing sign-in: %d, want %d with %q\n%s", rec.Code, tt.status, tt.want, rec.Body)
			}
			if len(rs.tried) != 1 {
				t.Fatalf("%d sessions asked for, want 1", len(rs.tried))
			}
			_, err := f.store.Session(context.Background(), rs.tried[0])
			if tt.status == http.StatusSeeOther {
				if err != nil {
					t.Fatalf("session of an undisturbed sign-in: %v", err)
				}
				if page := b.get("/test-private"); page.Code != http.StatusOK {
					t.Errorf("private page after sign-in: %d", page.Code)
				}
				return
			}
			if !errors.Is(err, collector.ErrNotFound) {
				t.Errorf("the racing sign-in stored a session: %v", err)
			}
			if b.cookies[sessionCookieName] != nil {
				t.Error("the racing sign-in set a session cookie")
			}
			if page := b.get("/test-private"); page.Code != http.StatusSeeOther {
				t.Errorf("private page after the racing sign-in: %d, want a redirect to sign in", page.Code)
			}
			// The old password is dead; the new one works.
			if rec := b.signIn(authTestEmail, authTestPassword, "/"); rec.Code != http.StatusUnprocessableEntity {
				t.Errorf("sign-in with the old password after the race: %d, want 422", rec.Code)
			}
			if tt.password != "" {
				if rec := b.signIn(authTestEmail, tt.password, "/"); rec.Code != http.StatusSeeOther {
					t.Errorf("sign-in with the new password: %d\n%s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func TestSetupRacesPasswordChange(t *testing.T) {
	t.Parallel()
	f := newAuthFixture(t, false, true)
	ctx := context.Background()
	srv, rs := f.raceServer(t)
	rs.race = func(ctx context.Context) error {
		hash, err := HashPassword("a brand new admin password")
		if err != nil {
			return err
		}
		return f.store.SetPassword(ctx, "first@example.com", hash)
	}
	link, err := srv.SetupLink(ctx, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(link, "http://127.0.0.1:8080")
	b := &authBrowser{t: t, h: srv.Handler(), remote: "192.0.2.1:4000", cookies: map[string]*http.Cookie{}}
	page := b.get(path)
	rec := b.post("/setup", url.Values{"csrf": {authFormCSRF(t, page.Body.String())}, "token": {strings.TrimPrefix(path, "/setup?token=")},
		"email": {"first@example.com"}, "password": {authTestPassword}, "confirm": {authTestPassword}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
		t.Fatalf("setup racing a reset: %d to %q, want a redirect to sign in\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if b.cookies[sessionCookieName] != nil {
		t.Error("setup racing a reset set a session cookie")
	}
	if len(rs.tried) != 1 {
		t.Fatalf("%d sessions asked for, want 1", len(rs.tried))
	}
	if _, err := f.store.Session(ctx, rs.tried[0]); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("setup racing a reset stored a session: %v", err)
	}
	if _, err := f.store.Account(ctx, "first@example.com"); err != nil {
		t.Errorf("the admin made by setup: %v", err)
	}
}
