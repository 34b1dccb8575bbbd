package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/time/rate"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/internal/secret"
)

// Sign-in for the web view: local admin accounts with argon2id password
// hashes, server-side sessions behind a random cookie token, a CSRF token
// per session, a sign-in rate limit, and the one-time setup link that
// creates the first admin.
//
// Only hashes reach the store: the SHA-256 of session and setup tokens and
// the argon2id hash of passwords. A stolen database therefore signs nobody
// in, and a session's CSRF token, derived from the session token with
// HMAC, cannot be recomputed from it either.

const (
	sessionCookieName = "shadowmap_session"
	// formCookieName holds the CSRF token of the forms shown before a
	// session exists (sign-in, setup): the form must echo the cookie
	// (double submit), so another site cannot post them.
	formCookieName = "shadowmap_form"

	// A session ends after sessionIdle without a request or sessionMax
	// after sign-in, whichever comes first.
	sessionIdle = 12 * time.Hour
	sessionMax  = 7 * 24 * time.Hour
	// touchEvery is how stale a session's LastSeenAt may get before a
	// request writes it again: idle expiry needs minutes, not every click.
	touchEvery = time.Minute

	// setupLinkValid is how long a first-start setup link works.
	setupLinkValid = 24 * time.Hour

	// MinPasswordLength is the shortest admin password accepted, in
	// characters.
	MinPasswordLength = 12
	maxPasswordBytes  = 1024
	maxEmailBytes     = 254
	// maxAuthFormBytes bounds the sign-in and setup request bodies.
	maxAuthFormBytes = 16 << 10

	// Sign-in attempts: signinBurst at once, then one every
	// signinEvery, per client address and per account.
	signinBurst = 5
	signinEvery = time.Minute / signinBurst
)

// session is the signed-in admin of a request.
type session struct {
	Email string
	// CSRF is the token every form of the session carries.
	CSRF string
	// tokenHash names the session in the store.
	tokenHash []byte
}

// cookieName gives a cookie the __Host- prefix under TLS: the browser then
// only accepts it Secure, for Path=/ and from this very host, so a sibling
// subdomain cannot plant or overwrite it.
func (s *Server) cookieName(base string) string {
	if s.opts.Secure {
		return "__Host-" + base
	}
	return base
}

// signedIn wraps a page handler: it finds the request's session or
// redirects to /signin, and on a state-changing method checks the form's
// CSRF token (field "csrf", or the X-CSRF-Token header for scripts),
// answering 403 when it is missing or wrong.
func (s *Server) signedIn(h func(w http.ResponseWriter, r *http.Request, sess session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok, err := s.currentSession(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			s.redirectToSignIn(w, r)
			return
		}
		// Signed-in pages hold the company's inventory: keep them out of
		// shared caches and the browser's back-button cache on sign-out.
		w.Header().Set("Cache-Control", "no-store")
		if changesState(r.Method) {
			presented := r.Header.Get("X-CSRF-Token")
			if presented == "" {
				presented = r.PostFormValue("csrf")
			}
			if !secret.Equal(sess.CSRF, presented) {
				s.renderRefused(w, r, sess)
				return
			}
		}
		h(w, r, sess)
	}
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// currentSession finds the request's live session. An expired one is
// deleted and its cookie cleared; ok is false then, as with no cookie.
func (s *Server) currentSession(w http.ResponseWriter, r *http.Request) (sess session, ok bool, err error) {
	if s.opts.Accounts == nil {
		return session{}, false, nil
	}
	c, err := r.Cookie(s.cookieName(sessionCookieName))
	if err != nil {
		return session{}, false, nil
	}
	token, valid := decodeToken(c.Value)
	if !valid {
		s.clearCookie(w, sessionCookieName)
		return session{}, false, nil
	}
	hash := tokenHash(c.Value)
	stored, err := s.opts.Accounts.Session(r.Context(), hash)
	if errors.Is(err, collector.ErrNotFound) {
		s.clearCookie(w, sessionCookieName)
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, fmt.Errorf("web: read session: %w", err)
	}
	now := s.opts.Now()
	if now.Sub(stored.CreatedAt) >= sessionMax || now.Sub(stored.LastSeenAt) >= sessionIdle {
		if err := s.opts.Accounts.DeleteSession(r.Context(), hash); err != nil {
			s.log.Warn("web: delete expired session", "err", err)
		}
		s.clearCookie(w, sessionCookieName)
		return session{}, false, nil
	}
	if now.Sub(stored.LastSeenAt) >= touchEvery {
		// A failed touch costs at most an earlier idle expiry; the
		// request itself can go on.
		if err := s.opts.Accounts.TouchSession(r.Context(), hash, now); err != nil {
			s.log.Warn("web: touch session", "err", err)
		}
	}
	return session{Email: stored.Email, CSRF: csrfToken(token), tokenHash: hash}, true, nil
}

// redirectToSignIn sends the browser to /signin, asking to come back to
// the page it wanted when that was a plain page view.
func (s *Server) redirectToSignIn(w http.ResponseWriter, r *http.Request) {
	target := "/signin"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if next := safeNext(r.URL.RequestURI()); next != "/" {
			target += "?next=" + url.QueryEscape(next)
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// renderRefused is the 403 page of a signed-in request whose form carried
// no valid CSRF token: a stale tab, or a form posted from another site.
func (s *Server) renderRefused(w http.ResponseWriter, r *http.Request, sess session) {
	s.render(w, r, http.StatusForbidden, "signin", page{
		Title: "Request refused", User: sess.Email, CSRF: sess.CSRF,
		Data: signinView{
			Heading: "Request refused",
			Notice:  "Nothing was changed: the form was out of date or came from another site. Go back, reload the page and try again.",
		},
	})
}

// Tokens are 32 random bytes, base64url without padding in cookies and
// links.
const tokenBytes = 32

func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeToken checks a presented token's shape before any store lookup.
func decodeToken(s string) ([]byte, bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil
}

// tokenHash is what the store keeps of a token.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// csrfToken derives a session's CSRF token from its secret token: stable
// for the session's life, never stored, useless without the cookie.
func csrfToken(sessionToken []byte) string {
	m := hmac.New(sha256.New, sessionToken)
	m.Write([]byte("shadowmap csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: value, Path: "/",
		HttpOnly: true, Secure: s.opts.Secure, SameSite: sameSite,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// safeNext returns next when it is a path on this site, "/" otherwise.
// Browsers read "//host", "/\host" and "\\host" as other sites, and
// strip tabs and newlines before parsing, so all of those are refused.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	switch u.Path {
	case "/signin", "/signout", "/setup":
		return "/"
	}
	return next
}

// The sign-in and setup pages.

// signinView is the sign-in page, also used for the 403 of a refused form.
type signinView struct {
	Heading string
	// Notice replaces the form when set (the 403 page).
	Notice   string
	Error    string
	Email    string
	Next     string
	FormCSRF string
	// OIDC names the identity provider of the "Sign in with" button, ""
	// when OIDC sign-in is off (oidc.go).
	OIDC string
}

// setupView is the first-admin page.
type setupView struct {
	// Unusable explains why the link cannot create an admin; the form is
	// not shown then.
	Unusable string
	Token    string
	FormCSRF string
	Email    string
	Errors   adminFormErrors
}

type adminFormErrors struct {
	Form, Email, Password, Confirm string
}

func (e adminFormErrors) any() bool {
	return e.Form != "" || e.Email != "" || e.Password != "" || e.Confirm != ""
}

// authHandlers hold the sign-in rate limits, which live as long as the
// Server.
type authHandlers struct {
	s         *Server
	byClient  *limiterSet
	byAccount *limiterSet
}

func (s *Server) authRoutes() {
	a := &authHandlers{
		s:         s,
		byClient:  newLimiterSet(rate.Every(signinEvery), signinBurst),
		byAccount: newLimiterSet(rate.Every(signinEvery), signinBurst),
	}
	s.mux.HandleFunc("GET /signin", a.signinPage)
	s.mux.HandleFunc("POST /signin", a.signin)
	s.mux.HandleFunc("POST /signout", a.signout)
	s.mux.HandleFunc("GET /setup", a.setupPage)
	s.mux.HandleFunc("POST /setup", a.setup)
	a.oidcRoutes()
}

// formToken returns the pre-session CSRF token of the browser, setting a
// new cookie when it has none.
func (a *authHandlers) formToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(a.s.cookieName(formCookieName)); err == nil {
		if _, ok := decodeToken(c.Value); ok {
			return c.Value, nil
		}
	}
	t, err := newToken()
	if err != nil {
		return "", err
	}
	// Strict: the form cookie has no business on any cross-site request.
	a.s.setCookie(w, formCookieName, t, http.SameSiteStrictMode)
	return t, nil
}

// formTokenOK checks a pre-session form's CSRF field against its cookie.
func (a *authHandlers) formTokenOK(r *http.Request) bool {
	c, err := r.Cookie(a.s.cookieName(formCookieName))
	return err == nil && secret.Equal(c.Value, r.PostFormValue("csrf"))
}

func (a *authHandlers) renderSignin(w http.ResponseWriter, r *http.Request, status int, v signinView) {
	t, err := a.formToken(w, r)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	v.Heading, v.FormCSRF, v.OIDC = "Sign in to shadowmap", t, a.s.oidcButton()
	w.Header().Set("Cache-Control", "no-store")
	a.s.render(w, r, status, "signin", page{Title: "Sign in", Data: v})
}

func (a *authHandlers) signinPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok, err := a.s.currentSession(w, r); err != nil {
		a.s.fail(w, r, err)
		return
	} else if ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	a.renderSignin(w, r, http.StatusOK, signinView{Next: next})
}

func (a *authHandlers) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthFormBytes)
	if err := r.ParseForm(); err != nil {
		a.renderSignin(w, r, http.StatusBadRequest, signinView{Error: "The form could not be read; please try again."})
		return
	}
	email := normalizeEmail(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	v := signinView{Email: email, Next: safeNext(r.PostForm.Get("next"))}
	if len(email) > maxEmailBytes {
		v.Email = ""
	}
	if !a.formTokenOK(r) {
		v.Error = "This sign-in form had expired or came from another site. Please sign in again."
		a.renderSignin(w, r, http.StatusForbidden, v)
		return
	}
	if email == "" || password == "" {
		v.Error = "Enter your email and your password."
		a.renderSignin(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	now := a.s.opts.Now()
	wait := a.byClient.take(clientKey(r), now)
	if wait == 0 {
		// Bounded, so junk emails cannot make the limiter's keys large.
		wait = a.byAccount.take(email[:min(len(email), maxEmailBytes)], now)
	}
	if wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		v.Error = fmt.Sprintf("Too many sign-in attempts. Wait %d seconds, then try again.", secs)
		a.renderSignin(w, r, http.StatusTooManyRequests, v)
		return
	}
	if a.s.opts.Accounts == nil {
		a.s.fail(w, r, errors.New("web: sign-in without an account store"))
		return
	}
	verified, ok, err := a.s.checkCredentials(r.Context(), email, password)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	if !ok {
		a.s.log.Info("web: sign-in failed", "email", email, "client", clientKey(r))
		v.Error = "That email and password do not match an admin account."
		a.renderSignin(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	err = a.s.startPasswordSession(w, r, email, verified)
	if errors.Is(err, collector.ErrPasswordChanged) || errors.Is(err, collector.ErrNotFound) {
		a.s.log.Info("web: sign-in lost a race with a password reset or account removal", "email", email, "client", clientKey(r))
		v.Error = "The password of this account was just changed or the account removed. Sign in again."
		a.renderSignin(w, r, http.StatusConflict, v)
		return
	}
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	a.s.log.Info("web: signed in", "email", email, "client", clientKey(r))
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// checkCredentials verifies a password and returns the hash it matched,
// for startPasswordSession. An unknown email is checked against a dummy
// hash, so the answer takes as long either way.
func (s *Server) checkCredentials(ctx context.Context, email, password string) (verifiedHash string, ok bool, err error) {
	acct, err := s.opts.Accounts.Account(ctx, email)
	encoded := acct.PasswordHash
	switch {
	case errors.Is(err, collector.ErrNotFound):
		encoded = dummyHash()
	case err != nil:
		return "", false, fmt.Errorf("web: read account: %w", err)
	}
	match, err := verifyPasswordCtx(ctx, encoded, password)
	if err != nil {
		return "", false, fmt.Errorf("web: check password of %s: %w", email, err)
	}
	if !match || acct.Email == "" {
		return "", false, nil
	}
	return encoded, true, nil
}

// startSession creates a session for email, signed in without a password
// (OIDC), and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, email string) error {
	return s.startPasswordSession(w, r, email, "")
}

// startPasswordSession creates a session for email and sets its cookie.
// Every sign-in gets a new token, so a token planted before sign-in is
// useless. verifiedHash is the password hash the sign-in checked: the
// store refuses the session (collector.ErrPasswordChanged) when a reset
// replaced it meanwhile, since the reset already signed this account out
// everywhere and a session made after it would survive it. No cookie is
// set then.
func (s *Server) startPasswordSession(w http.ResponseWriter, r *http.Request, email, verifiedHash string) error {
	token, err := newToken()
	if err != nil {
		return err
	}
	now := s.opts.Now()
	if err := s.opts.Accounts.CreateSession(r.Context(), collector.Session{
		TokenHash: tokenHash(token), Email: email, CreatedAt: now, LastSeenAt: now, PasswordHash: verifiedHash,
	}); err != nil {
		return fmt.Errorf("web: create session: %w", err)
	}
	s.setCookie(w, sessionCookieName, token, http.SameSiteLaxMode)
	// Sign-ins are rare: a good moment to drop the sessions that ended.
	if _, err := s.opts.Accounts.DeleteExpiredSessions(r.Context(), now.Add(-sessionMax), now.Add(-sessionIdle)); err != nil {
		s.log.Warn("web: delete expired sessions", "err", err)
	}
	return nil
}

func (a *authHandlers) signout(w http.ResponseWriter, r *http.Request) {
	sess, ok, err := a.s.currentSession(w, r)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	if ok {
		if !secret.Equal(sess.CSRF, r.PostFormValue("csrf")) {
			a.s.renderRefused(w, r, sess)
			return
		}
		if err := a.s.opts.Accounts.DeleteSession(r.Context(), sess.tokenHash); err != nil {
			a.s.fail(w, r, fmt.Errorf("web: sign out: %w", err))
			return
		}
		a.s.log.Info("web: signed out", "email", sess.Email)
	}
	a.s.clearCookie(w, sessionCookieName)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// SetupLink returns a one-time link that creates the first admin, valid
// for 24 hours, or "" when an admin exists. Each call replaces the last
// link. baseURL is where an admin reaches the web view, such as
// "http://127.0.0.1:8080".
func (s *Server) SetupLink(ctx context.Context, baseURL string) (string, error) {
	if s.opts.Accounts == nil {
		return "", errors.New("web: setup link: no account store")
	}
	has, err := s.opts.Accounts.HasAccounts(ctx)
	if err != nil || has {
		return "", err
	}
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if err := s.opts.Accounts.SetSetupToken(ctx, tokenHash(token), s.opts.Now().Add(setupLinkValid)); err != nil {
		return "", fmt.Errorf("web: setup link: %w", err)
	}
	return strings.TrimRight(baseURL, "/") + "/setup?token=" + token, nil
}

const (
	setupLinkUnusable = "This setup link does not work: it was used already, replaced by a newer one, or is more than 24 hours old. " +
		"Restart the collector for a new link, or run “shadowmap admin create --email you@example.com” on the server."
	setupAdminExists = "An admin account exists already, so this link is not needed any more. Sign in instead."
)

// setupState says whether token can still create the first admin, and why
// not when it cannot.
func (a *authHandlers) setupState(ctx context.Context, token string) (unusable string, err error) {
	if a.s.opts.Accounts == nil {
		return setupLinkUnusable, nil
	}
	has, err := a.s.opts.Accounts.HasAccounts(ctx)
	if err != nil {
		return "", err
	}
	if has {
		return setupAdminExists, nil
	}
	if _, ok := decodeToken(token); !ok {
		return setupLinkUnusable, nil
	}
	valid, err := a.s.opts.Accounts.SetupTokenValid(ctx, tokenHash(token), a.s.opts.Now())
	if err != nil {
		return "", err
	}
	if !valid {
		return setupLinkUnusable, nil
	}
	return "", nil
}

func (a *authHandlers) renderSetup(w http.ResponseWriter, r *http.Request, status int, v setupView) {
	if v.Unusable == "" {
		t, err := a.formToken(w, r)
		if err != nil {
			a.s.fail(w, r, err)
			return
		}
		v.FormCSRF = t
	} else {
		v.Token = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	a.s.render(w, r, status, "setup", page{Title: "Create the first admin", Data: v})
}

func (a *authHandlers) setupPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	unusable, err := a.setupState(r.Context(), token)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	if unusable != "" {
		a.renderSetup(w, r, http.StatusNotFound, setupView{Unusable: unusable})
		return
	}
	a.renderSetup(w, r, http.StatusOK, setupView{Token: token})
}

func (a *authHandlers) setup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthFormBytes)
	if err := r.ParseForm(); err != nil {
		a.renderSetup(w, r, http.StatusBadRequest, setupView{Token: r.URL.Query().Get("token"),
			Errors: adminFormErrors{Form: "The form could not be read; please try again."}})
		return
	}
	token := r.PostForm.Get("token")
	v := setupView{Token: token, Email: strings.TrimSpace(r.PostForm.Get("email"))}
	if len(v.Email) > maxEmailBytes {
		v.Email = ""
	}
	// The token is checked before the CSRF field and the password hash,
	// so a request without a live token costs one indexed read.
	unusable, err := a.setupState(r.Context(), token)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	if unusable != "" {
		a.renderSetup(w, r, http.StatusNotFound, setupView{Unusable: unusable})
		return
	}
	if !a.formTokenOK(r) {
		v.Errors.Form = "This form had expired or came from another site. Please fill it in again."
		a.renderSetup(w, r, http.StatusForbidden, v)
		return
	}
	email, password := r.PostForm.Get("email"), r.PostForm.Get("password")
	var normal string
	normal, v.Errors.Email = checkEmail(email)
	if v.Errors.Password = passwordProblem(password); v.Errors.Password == "" && r.PostForm.Get("confirm") != password {
		v.Errors.Confirm = "The two passwords differ."
	}
	if v.Errors.any() {
		a.renderSetup(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	hash, err := hashPasswordCtx(r.Context(), password)
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	err = a.s.opts.Accounts.CreateFirstAccount(r.Context(), tokenHash(token), a.s.opts.Now(),
		collector.Account{Email: normal, PasswordHash: hash, CreatedAt: a.s.opts.Now()})
	switch {
	case errors.Is(err, collector.ErrNotFound):
		a.renderSetup(w, r, http.StatusNotFound, setupView{Unusable: setupLinkUnusable})
		return
	case errors.Is(err, collector.ErrAccountExists):
		a.renderSetup(w, r, http.StatusNotFound, setupView{Unusable: setupAdminExists})
		return
	case err != nil:
		a.s.fail(w, r, err)
		return
	}
	a.s.log.Info("web: first admin created with the setup link", "email", normal, "client", clientKey(r))
	err = a.s.startPasswordSession(w, r, normal, hash)
	if errors.Is(err, collector.ErrPasswordChanged) || errors.Is(err, collector.ErrNotFound) {
		// The admin exists; only this browser's session was refused.
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if err != nil {
		a.s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// Accounts, shared with `shadowmap admin create`.

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkEmail returns the stored form of an admin's email, or what is wrong
// with it.
func checkEmail(email string) (normal, problem string) {
	normal = normalizeEmail(email)
	if normal == "" {
		return "", "Enter an email address."
	}
	addr, err := mail.ParseAddress(normal)
	if len(normal) > maxEmailBytes || err != nil || addr.Address != normal || addr.Name != "" {
		return "", "Enter a plain email address, such as it@example.com."
	}
	return normal, ""
}

// passwordProblem says what is wrong with a new admin password, "" when
// nothing is.
func passwordProblem(password string) string {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLength)
	}
	if len(password) > maxPasswordBytes {
		return fmt.Sprintf("Use at most %d bytes.", maxPasswordBytes)
	}
	return ""
}

// CheckAdmin says what is wrong with a new admin's email or password, nil
// when nothing is: the rules of the setup page, for the command line.
func CheckAdmin(email, password string) error {
	if _, problem := checkEmail(email); problem != "" {
		return fmt.Errorf("email %q: %s", email, problem)
	}
	if problem := passwordProblem(password); problem != "" {
		return fmt.Errorf("password: %s", problem)
	}
	return nil
}

// CreateAdmin checks and stores a new admin account, for
// `shadowmap admin create`. It wraps collector.ErrAccountExists when the
// email has an account already.
func CreateAdmin(ctx context.Context, store collector.AccountStore, email, password string, now time.Time) error {
	if err := CheckAdmin(email, password); err != nil {
		return err
	}
	normal := normalizeEmail(email)
	hash, err := hashPasswordCtx(ctx, password)
	if err != nil {
		return err
	}
	return store.CreateAccount(ctx, collector.Account{Email: normal, PasswordHash: hash, CreatedAt: now})
}

// Rate limits.

// limiterSet is a token bucket per key (client address, account).
type limiterSet struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	keys  map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

// limiterSweepAt is the size at which idle buckets are dropped. A bucket
// idle for burst/rate is full again, so dropping it forgets nothing.
const limiterSweepAt = 4096

func newLimiterSet(every rate.Limit, burst int) *limiterSet {
	return &limiterSet{every: every, burst: burst, keys: map[string]*limiterEntry{}}
}

// take spends one attempt of key at now and returns 0, or, when none is
// left, spends nothing and returns how long until the next one.
func (l *limiterSet) take(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= limiterSweepAt {
			full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
			for k, old := range l.keys {
				if now.Sub(old.last) > full {
					delete(l.keys, k)
				}
			}
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.every, l.burst)}
		l.keys[key] = e
	}
	e.last = now
	res := e.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// clientKey is the rate-limit key of the request's client: its address,
// or its /64 for IPv6, which one host usually holds whole. The address is
// the one WithTrustedProxies resolved behind a trusted reverse proxy, the
// TCP peer's otherwise.
func clientKey(r *http.Request) string {
	addr, ok := r.Context().Value(clientAddrKey{}).(netip.Addr)
	if !ok {
		if addr, ok = parseHostAddr(r.RemoteAddr); !ok {
			// Not an IP (a Unix socket, a test's made-up peer): the
			// host text still tells one peer from another.
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				return host
			}
			return r.RemoteAddr
		}
	}
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// Password hashes: argon2id in the PHC string format,
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash> (unpadded standard base64).

// argonParams are the argon2id cost parameters.
type argonParams struct {
	memoryKiB uint32
	time      uint32
	threads   uint8
	keyLen    uint32
}

// passwordParams follow RFC 9106's second recommended option: 64 MiB,
// three passes, four lanes.
var passwordParams = argonParams{memoryKiB: 64 << 10, time: 3, threads: 4, keyLen: 32}

const passwordSaltLen = 16

// hashSlots bounds the hashes computed at once: each takes 64 MiB, and a
// burst of sign-ins from many addresses must not exhaust memory.
var hashSlots = make(chan struct{}, 4)

func withHashSlot(ctx context.Context, f func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashSlots }()
	f()
	return nil
}

// HashPassword returns the encoded argon2id hash of password with a fresh
// random salt.
func HashPassword(password string) (string, error) {
	return hashPasswordCtx(context.Background(), password)
}

func hashPasswordCtx(ctx context.Context, password string) (string, error) {
	salt := make([]byte, passwordSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("web: password salt: %w", err)
	}
	var encoded string
	err := withHashSlot(ctx, func() { encoded = encodeHash(passwordParams, salt, password) })
	return encoded, err
}

func encodeHash(p argonParams, salt []byte, password string) string {
	key := argon2.IDKey([]byte(password), salt, p.time, p.memoryKiB, p.threads, p.keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memoryKiB, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errBadHash is returned for a stored hash that is not an argon2id string
// this code can check.
var errBadHash = errors.New("not a usable argon2id password hash")

// decodeHash parses an encoded hash, with bounds on the parameters so a
// corrupt row cannot make a check take gigabytes or hours.
func decodeHash(encoded string) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, threads uint64
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, threads) != parts[3] {
		return p, nil, nil, errBadHash
	}
	if m < 8 || m > 1<<20 || t < 1 || t > 32 || threads < 1 || threads > 64 || m < 8*threads {
		return p, nil, nil, errBadHash
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return argonParams{memoryKiB: uint32(m), time: uint32(t), threads: uint8(threads), keyLen: uint32(len(key))}, salt, key, nil
}

// VerifyPassword reports whether password matches an encoded hash, in
// constant time; an error when the hash cannot be read.
func VerifyPassword(encoded, password string) (bool, error) {
	return verifyPasswordCtx(context.Background(), encoded, password)
}

func verifyPasswordCtx(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	// No stored password is that long; the check still runs, on a cut
	// copy, so the answer takes the usual time.
	tooLong := len(password) > maxPasswordBytes
	if tooLong {
		password = password[:maxPasswordBytes]
	}
	var got []byte
	if err := withHashSlot(ctx, func() { got = argon2.IDKey([]byte(password), salt, p.time, p.memoryKiB, p.threads, p.keyLen) }); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, key) == 1 && !tooLong, nil
}

// dummyHash is checked for unknown emails, with the cost of a real one.
var dummyHash = sync.OnceValue(func() string {
	salt := make([]byte, passwordSaltLen)
	_, _ = rand.Read(salt)
	return encodeHash(passwordParams, salt, rand.Text())
})
