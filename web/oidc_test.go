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
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/store/sqlite"
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
	ctx := context.Background()
	clock := &authClock{now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shadowmap.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	idp := newTestIdP(t, clock.Now)
	srv, err := New(Options{Accounts: store, Now: clock.Now, OIDC: OIDCSettings{
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
	if tamper != nil {
		tamper(back)
	}
	return b.get(back.RequestURI())
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
			if _, ok := b.cookies[oidcFlowCookieName]; ok {
				t.Error("the flow cookie outlived its callback")
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
