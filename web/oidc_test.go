package web

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testIdP is an OpenID provider on loopback: discovery, JWKS with an RSA
// key, an authorize endpoint that redirects back with a code, and a token
// endpoint that checks PKCE and returns a signed ID token.
type testIdP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey
	now func() time.Time
	// claims edits each ID token's claims before signing.
	claims func(map[string]any)

	mu    sync.Mutex
	codes map[string]idpCode
}

type idpCode struct{ nonce, challenge string }

func newTestIdP(t *testing.T, now func() time.Time) *testIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &testIdP{t: t, key: key, now: now, codes: map[string]idpCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64.EncodeToString(key.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "shadowmap" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := rand.Text()
		p.mu.Lock()
		p.codes[code] = idpCode{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		p.mu.Lock()
		c, ok := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		id, secret, _ := r.BasicAuth()
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge || id != "shadowmap" || secret != "client-secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": p.idToken(c.nonce),
		})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testIdP) idToken(nonce string) string {
	now := p.now()
	claims := map[string]any{
		"iss": p.srv.URL, "aud": "shadowmap", "sub": "user-1", "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": authTestEmail, "email_verified": true,
	}
	if p.claims != nil {
		p.claims(claims)
	}
	b64 := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	signing := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Fatal(err)
	}
	return signing + "." + b64.EncodeToString(sig)
}

const oidcRedirect = "http://127.0.0.1:8080/signin/oidc/callback"

// newOIDCFixture is a Server with OIDC sign-in at a testIdP and one admin,
// authTestEmail.
func newOIDCFixture(t *testing.T, autoCreate bool) (*authFixture, *testIdP) {
	t.Helper()
	return newOIDCFixtureTLS(t, autoCreate, false)
}

// newOIDCFixtureTLS is newOIDCFixture behind TLS when secure.
func newOIDCFixtureTLS(t *testing.T, autoCreate, secure bool) (*authFixture, *testIdP) {
	t.Helper()
	ctx := context.Background()
	clock := &authClock{now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	store := openTestStore(t, clock.Now)
	idp := newTestIdP(t, clock.Now)
	srv, err := New(Options{Accounts: store, Now: clock.Now, Secure: secure, OIDC: OIDCSettings{
		Issuer: idp.srv.URL, ClientID: "shadowmap", ClientSecret: "client-secret", RedirectURL: oidcRedirect,
		AllowedDomains: []string{"example.com"}, AllowedEmails: []string{"contractor@elsewhere.test"},
		AutoCreateAdmins: autoCreate, DisplayName: "Acme <IdP>", HTTPClient: idp.srv.Client(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.mux.HandleFunc("/test-private", srv.signedIn(func(w http.ResponseWriter, r *http.Request, sess session) {
		fmt.Fprintf(w, "private page of %s", sess.Email)
	}))
	if err := CreateAdmin(ctx, store, authTestEmail, authTestPassword, clock.Now()); err != nil {
		t.Fatal(err)
	}
	return &authFixture{srv: srv, store: store, clock: clock}, idp
}

// oidcSignIn runs the flow from /signin/oidc?next=next to the callback's
// answer; tamper may change the callback URL.
func oidcSignIn(t *testing.T, b *authBrowser, next string, tamper func(*url.URL)) *httptest.ResponseRecorder {
	t.Helper()
	back := oidcStart(t, b, next)
	if tamper != nil {
		tamper(back)
	}
	return b.get(back.RequestURI())
}

// oidcStart starts a flow at /signin/oidc?next=next and takes it through
// the provider, returning the callback URL the provider sends back to.
func oidcStart(t *testing.T, b *authBrowser, next string) *url.URL {
	t.Helper()
	start := b.get("/signin/oidc?next=" + url.QueryEscape(next))
	if start.Code != http.StatusSeeOther {
		t.Fatalf("start: %d %s", start.Code, start.Body)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(start.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), oidcRedirect) {
		t.Fatalf("authorize: %d to %q", resp.StatusCode, back)
	}
	return back
}

// oidcFlowCookies are the browser's pending flow cookies.
func oidcFlowCookies(b *authBrowser) []*http.Cookie {
	var flows []*http.Cookie
	for name, c := range b.cookies {
		if strings.HasPrefix(strings.TrimPrefix(name, "__Host-"), "shadowmap_oidc") {
			flows = append(flows, c)
		}
	}
	return flows
}

func TestOIDCSignIn(t *testing.T) {
	tests := []struct {
		name       string
		autoCreate bool
		next       string
		claims     func(map[string]any)
		tamper     func(*url.URL)
		status     int
		wantIn     string // the page says, when refused
		redirectTo string // where a success goes
		email      string // the signed-in admin
	}{
		{name: "success", next: "/apps?q=x", status: 303, redirectTo: "/apps?q=x", email: authTestEmail},
		{name: "wrong state", tamper: func(u *url.URL) {
			q := u.Query()
			q.Set("state", "forged")
			u.RawQuery = q.Encode()
		}, status: 400, wantIn: "start again"},
		{name: "wrong nonce", claims: func(c map[string]any) { c["nonce"] = "other" }, status: 403, wantIn: "could not be verified"},
		{name: "expired token", claims: func(c map[string]any) { c["exp"] = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC).Unix() }, status: 403, wantIn: "could not be verified"},
		{name: "wrong audience", claims: func(c map[string]any) { c["aud"] = "another-app" }, status: 403, wantIn: "could not be verified"},
		{name: "wrong issuer", claims: func(c map[string]any) { c["iss"] = "https://evil.test" }, status: 403, wantIn: "could not be verified"},
		{name: "unverified email", claims: func(c map[string]any) { c["email_verified"] = false }, status: 403, wantIn: "is not verified"},
		{name: "outside the allowed domain", claims: func(c map[string]any) { c["email"] = "it@example.org" }, status: 403, wantIn: "is not allowed"},
		{name: "lookalike domain", claims: func(c map[string]any) { c["email"] = "it@evilexample.com" }, status: 403, wantIn: "is not allowed"},
		{name: "unknown admin without auto-create", claims: func(c map[string]any) { c["email"] = "new@example.com" }, status: 403, wantIn: "has no shadowmap admin account"},
		{name: "auto-create on", autoCreate: true, claims: func(c map[string]any) { c["email"] = "New@Example.com" }, status: 303, redirectTo: "/", email: "new@example.com"},
		{name: "allowed email of another domain", autoCreate: true, claims: func(c map[string]any) { c["email"] = "contractor@elsewhere.test" }, status: 303, redirectTo: "/", email: "contractor@elsewhere.test"},
		{name: "hostile email shown escaped", claims: func(c map[string]any) { c["email"] = `"<script>alert(1)</script>"@example.org` }, status: 403, wantIn: "no usable email"},
		{name: "open redirect //", next: "//evil.test/x", status: 303, redirectTo: "/", email: authTestEmail},
		{name: "open redirect backslash", next: `/\evil.test`, status: 303, redirectTo: "/", email: authTestEmail},
		{name: "open redirect absolute", next: "https://evil.test/", status: 303, redirectTo: "/", email: authTestEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, idp := newOIDCFixture(t, tt.autoCreate)
			idp.claims = tt.claims
			b := f.authBrowser(t, "192.0.2.1:1234")
			rec := oidcSignIn(t, b, tt.next, tt.tamper)
			if rec.Code != tt.status {
				t.Fatalf("callback: %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			// A forged state names no flow, so the pending one is left
			// to its own callback.
			if n := len(oidcFlowCookies(b)); tt.tamper == nil && n != 0 {
				t.Errorf("%d flow cookies outlived their callback", n)
			}
			body := rec.Body.String()
			if strings.Contains(body, "<script>alert") {
				t.Error("unescaped email on the page")
			}
			private := b.get("/test-private")
			if tt.redirectTo == "" {
				if !strings.Contains(body, tt.wantIn) {
					t.Errorf("page lacks %q:\n%s", tt.wantIn, body)
				}
				if private.Code != http.StatusSeeOther {
					t.Errorf("refused sign-in left a session: %d", private.Code)
				}
				return
			}
			if got := rec.Header().Get("Location"); got != tt.redirectTo {
				t.Errorf("redirect to %q, want %q", got, tt.redirectTo)
			}
			if !strings.Contains(private.Body.String(), "private page of "+tt.email) {
				t.Errorf("after sign-in: %d %s", private.Code, private.Body)
			}
		})
	}
}

// TestOIDCReplayAndButton: a callback URL works once, and the sign-in page
// offers the provider, its name escaped.
func TestOIDCReplayAndButton(t *testing.T) {
	f, _ := newOIDCFixture(t, false)
	b := f.authBrowser(t, "192.0.2.1:1234")
	page := b.get("/signin?next=/apps")
	body := page.Body.String()
	if !strings.Contains(body, `href="/signin/oidc?next=%2fapps"`) || !strings.Contains(body, "Sign in with Acme &lt;IdP&gt;") {
		t.Errorf("sign-in page lacks the escaped OIDC button:\n%s", body)
	}
	if !strings.Contains(body, `action="/signin"`) {
		t.Error("password sign-in is gone")
	}
	var callback string
	rec := oidcSignIn(t, b, "/", func(u *url.URL) { callback = u.RequestURI() })
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("first callback: %d", rec.Code)
	}
	other := f.authBrowser(t, "192.0.2.2:1234")
	if again := other.get(callback); again.Code != http.StatusBadRequest {
		t.Errorf("replayed callback in another browser: %d", again.Code)
	}
}

// oidcExpiredPage is what the page of a callback without a pending flow
// says.
const oidcExpiredPage = "This sign-in link expired or was already used; start again."

// TestOIDCConcurrentFlows: sign-ins started in several tabs of one browser
// each keep their own flow, up to oidcMaxFlows.
func TestOIDCConcurrentFlows(t *testing.T) {
	// callback is one callback, by the index of its start.
	type callback struct {
		start int
		// expired: it finds no flow and gets the expired page.
		expired bool
	}
	ok := func(i int) callback { return callback{start: i} }
	gone := func(i int) callback { return callback{start: i, expired: true} }
	tests := []struct {
		name      string
		starts    int
		callbacks []callback
	}{
		{name: "two, finished in order", starts: 2, callbacks: []callback{ok(0), ok(1)}},
		{name: "two, finished in reverse", starts: 2, callbacks: []callback{ok(1), ok(0)}},
		{name: "three, all kept", starts: 3, callbacks: []callback{ok(0), ok(2), ok(1)}},
		{name: "a fourth evicts the first", starts: 4, callbacks: []callback{gone(0), ok(1), ok(2), ok(3)}},
		{name: "a fourth evicts the first, reverse", starts: 4, callbacks: []callback{ok(3), ok(2), ok(1), gone(0)}},
		{name: "a replayed callback", starts: 2, callbacks: []callback{ok(0), ok(1), gone(0), gone(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newOIDCFixture(t, false)
			b := f.authBrowser(t, "192.0.2.1:1234")
			var callbacks []string
			for i := range tt.starts {
				callbacks = append(callbacks, oidcStart(t, b, fmt.Sprintf("/apps?tab=%d", i)).RequestURI())
				if n := len(oidcFlowCookies(b)); n > 3 {
					t.Fatalf("after start %d: %d flow cookies", i, n)
				}
			}
			for _, cb := range tt.callbacks {
				i := cb.start
				rec := b.get(callbacks[i])
				if cb.expired {
					if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), oidcExpiredPage) {
						t.Errorf("callback %d: %d, want the expired page:\n%s", i, rec.Code, rec.Body)
					}
					continue
				}
				if want := fmt.Sprintf("/apps?tab=%d", i); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
					t.Errorf("callback %d: %d to %q, want 303 to %q:\n%s", i, rec.Code, rec.Header().Get("Location"), want, rec.Body)
				}
			}
			if n := len(oidcFlowCookies(b)); n != 0 {
				t.Errorf("%d flow cookies left after every callback", n)
			}
			if private := b.get("/test-private"); !strings.Contains(private.Body.String(), "private page of "+authTestEmail) {
				t.Errorf("not signed in: %d %s", private.Code, private.Body)
			}
		})
	}
}

// TestOIDCFlowCookie: the flow cookie is HttpOnly, Lax, short-lived, named
// for TLS with __Host- and Secure, and cleared by its callback.
func TestOIDCFlowCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			f, _ := newOIDCFixtureTLS(t, false, secure)
			b := f.authBrowser(t, "192.0.2.1:1234")
			start := b.get("/signin/oidc?next=/apps")
			set := start.Result().Cookies()
			if len(set) != 1 {
				t.Fatalf("start set %d cookies, want 1: %v", len(set), set)
			}
			c := set[0]
			prefix := "shadowmap_oidc_"
			if secure {
				prefix = "__Host-" + prefix
			}
			if !strings.HasPrefix(c.Name, prefix) || len(c.Name) == len(prefix) {
				t.Errorf("cookie name %q, want %q and an id", c.Name, prefix)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != secure || c.MaxAge != 600 {
				t.Errorf("flow cookie %+v: want HttpOnly, SameSite=Lax, Path=/, no Domain, Secure=%v, Max-Age=600", c, secure)
			}
			if start.Header().Get("Cache-Control") != "no-store" {
				t.Error("the redirect to the provider may be cached")
			}
			back, err := url.Parse(start.Header().Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			// A cookie whose signature is wrong is no flow.
			forged := *b.cookies[c.Name]
			forged.Value = strings.Replace(forged.Value, ".", ".x", 1)
			other := f.authBrowser(t, "192.0.2.2:1234")
			other.cookies[c.Name] = &forged
			state := back.Query().Get("state")
			if rec := other.get("/signin/oidc/callback?code=x&state=" + url.QueryEscape(state)); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), oidcExpiredPage) {
				t.Errorf("forged flow cookie: %d\n%s", rec.Code, rec.Body)
			}
			rec := b.get("/signin/oidc/callback?code=unknown&state=" + url.QueryEscape(state))
			var cleared *http.Cookie
			for _, rc := range rec.Result().Cookies() {
				if rc.Name == c.Name {
					cleared = rc
				}
			}
			if cleared == nil || cleared.MaxAge >= 0 || cleared.Path != "/" || cleared.Secure != secure {
				t.Errorf("callback did not clear the flow cookie: %+v", cleared)
			}
		})
	}
}

// TestOIDCExpiredFlow: a callback after the flow's lifetime, or with no
// flow at all, gets a page that says so and links to a new sign-in.
func TestOIDCExpiredFlow(t *testing.T) {
	tests := []struct {
		name    string
		wait    time.Duration
		expired bool
	}{
		{name: "just in time", wait: 10*time.Minute - time.Second},
		{name: "too late", wait: 10 * time.Minute, expired: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newOIDCFixture(t, false)
			b := f.authBrowser(t, "192.0.2.1:1234")
			back := oidcStart(t, b, "/apps")
			f.clock.Advance(tt.wait)
			rec := b.get(back.RequestURI())
			body := rec.Body.String()
			if !tt.expired {
				if rec.Code != http.StatusSeeOther {
					t.Errorf("callback in time: %d\n%s", rec.Code, body)
				}
				return
			}
			if rec.Code != http.StatusBadRequest || !strings.Contains(body, oidcExpiredPage) {
				t.Errorf("late callback: %d, want 400 and the expired page:\n%s", rec.Code, body)
			}
			if !strings.Contains(body, `href="/signin/oidc"`) || !strings.Contains(body, "sign in with Acme &lt;IdP&gt;") {
				t.Errorf("expired page lacks an escaped link to start again:\n%s", body)
			}
			if n := len(oidcFlowCookies(b)); n != 0 {
				t.Errorf("%d flow cookies left after the late callback", n)
			}
			if again := oidcSignIn(t, b, "/apps", nil); again.Code != http.StatusSeeOther {
				t.Errorf("starting again: %d\n%s", again.Code, again.Body)
			}
		})
	}
}
