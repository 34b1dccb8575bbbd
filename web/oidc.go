package web

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/internal/secret"
)

// Optional sign-in with the company's identity provider (Okta, Entra ID,
// Google) over OpenID Connect: the authorization code flow with PKCE.
// GET /signin/oidc sends the browser to the provider; the provider sends it
// back to GET /signin/oidc/callback with a code, which is exchanged for an
// ID token. The token's signature, issuer, audience, expiry and nonce are
// checked by go-oidc; the email must be verified and allowed; then the
// admin is signed in through startSession, exactly as after a password.

// OIDCSettings turn on OIDC sign-in; the zero value leaves it off.
type OIDCSettings struct {
	// Issuer is the provider's issuer URL; "" turns OIDC sign-in off.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the absolute URL of /signin/oidc/callback as
	// registered at the provider.
	RedirectURL string
	// AllowedDomains and AllowedEmails (lowercase) say whose verified
	// email may sign in.
	AllowedDomains []string
	AllowedEmails  []string
	// AutoCreateAdmins makes an allowed email without an account an admin
	// at its first sign-in; otherwise it is refused.
	AutoCreateAdmins bool
	// DisplayName names the provider on the button; the issuer's host when
	// empty.
	DisplayName string
	// HTTPClient reaches the provider; a client with a 15 s timeout when
	// nil.
	HTTPClient *http.Client
}

func (o OIDCSettings) enabled() bool { return o.Issuer != "" }

// name is what the pages call the provider.
func (o OIDCSettings) name() string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	if u, err := url.Parse(o.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return "your identity provider"
}

const (
	// oidcFlowCookiePrefix begins the names of the flow cookies. Each
	// sign-in attempt has its own cookie, named after its state, holding
	// its state, nonce and PKCE verifier between the two requests: two
	// tabs signing in at once then do not overwrite each other's flow.
	oidcFlowCookiePrefix = "shadowmap_oidc_"
	// oidcLegacyCookieName is the single flow cookie of earlier versions,
	// cleared when a browser still carries it.
	oidcLegacyCookieName = "shadowmap_oidc"
	// oidcMaxFlows bounds the pending flows of a browser, so a page or a
	// script starting sign-ins in a loop cannot grow the request headers
	// past what the server accepts; starting one more drops the oldest.
	oidcMaxFlows = 3
	// oidcFlowValid is how long a browser may spend at the provider.
	oidcFlowValid = 10 * time.Minute
	// oidcMaxCookieBytes is what browsers store at most of one cookie.
	oidcMaxCookieBytes = 4096
	// oidcMaxStateBytes bounds the callback's state before it is hashed.
	oidcMaxStateBytes = 256
	// googleIssuer signs tokens whose "hd" claim names the Workspace
	// domain of the account.
	googleIssuer = "https://accounts.google.com"
)

// oidcFlow is what the flow cookie carries, signed with the server's key.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
	// Seq orders the flows of this process by when they started; the
	// flows of an earlier process fail the signature check anyway, so a
	// counter that restarts with the process orders every valid flow.
	Seq uint64 `json:"q"`
}

type oidcHandlers struct {
	a    *authHandlers
	cfg  OIDCSettings
	http *http.Client
	// flowKey signs flow cookies, so none can be planted. It lives with
	// the process: a restart only ends the sign-ins under way.
	flowKey []byte
	flowSeq atomic.Uint64

	mu       sync.Mutex
	provider *oidc.Provider
}

// oidcRoutes registers the OIDC endpoints when OIDC sign-in is on.
func (a *authHandlers) oidcRoutes() {
	if !a.s.opts.OIDC.enabled() {
		return
	}
	o := &oidcHandlers{a: a, cfg: a.s.opts.OIDC, http: a.s.opts.OIDC.HTTPClient, flowKey: make([]byte, 32)}
	if o.http == nil {
		o.http = &http.Client{Timeout: 15 * time.Second}
	}
	_, _ = rand.Read(o.flowKey)
	a.s.mux.HandleFunc("GET /signin/oidc", o.start)
	a.s.mux.HandleFunc("GET /signin/oidc/callback", o.callback)
}

// oidcButton is the provider's name for the sign-in page's button, "" when
// OIDC sign-in is off.
func (s *Server) oidcButton() string {
	if !s.opts.OIDC.enabled() {
		return ""
	}
	return s.opts.OIDC.name()
}

// clientContext makes go-oidc and oauth2 use the configured client.
func (o *oidcHandlers) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, o.http), o.http)
}

// discover reads the provider's configuration once it answers; a failure
// is retried at the next sign-in, so a provider down at start does not
// keep OIDC off.
func (o *oidcHandlers) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(o.clientContext(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("web: oidc discovery of %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcHandlers) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: o.cfg.RedirectURL,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

// refuse shows the sign-in page with why the OIDC sign-in did not work.
func (o *oidcHandlers) refuse(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	o.a.renderSignin(w, r, status, signinView{Error: msg, Next: next})
}

func (o *oidcHandlers) start(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok, err := o.a.s.currentSession(w, r); err != nil {
		o.a.s.fail(w, r, err)
		return
	} else if ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		o.a.s.log.Warn("web: oidc sign-in unavailable", "err", err)
		o.refuse(w, r, http.StatusBadGateway, next, fmt.Sprintf("%s could not be reached just now. Try again in a minute, or sign in with your password.", o.cfg.name()))
		return
	}
	flow := oidcFlow{Next: next, Expires: o.a.s.opts.Now().Add(oidcFlowValid).Unix()}
	for _, f := range []*string{&flow.State, &flow.Nonce} {
		if *f, err = newToken(); err != nil {
			o.a.s.fail(w, r, err)
			return
		}
	}
	flow.Verifier = oauth2.GenerateVerifier()
	flow.Seq = o.flowSeq.Add(1)
	o.makeRoom(w, r)
	o.setFlowCookie(w, flow)
	w.Header().Set("Cache-Control", "no-store")
	target := o.oauth(p).AuthCodeURL(flow.State, oauth2.S256ChallengeOption(flow.Verifier), oidc.Nonce(flow.Nonce))
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// flowCookieBase names the cookie of the flow with this state. The name
// carries a digest, not the state itself, so a state of any shape from a
// callback URL still makes a valid cookie name.
func flowCookieBase(state string) string {
	sum := sha256.Sum256([]byte("shadowmap oidc flow id\x00" + state))
	return oidcFlowCookiePrefix + base64.RawURLEncoding.EncodeToString(sum[:9])
}

// setFlowCookie stores a flow in its own cookie. Lax, not Strict: the
// provider's redirect back is a cross-site top-level navigation, which
// must carry the cookie. Max-Age lets the browser drop an abandoned flow
// by itself once it could no longer be used.
func (o *oidcHandlers) setFlowCookie(w http.ResponseWriter, f oidcFlow) {
	http.SetCookie(w, &http.Cookie{
		Name: o.a.s.cookieName(flowCookieBase(f.State)), Value: o.sealFlow(f), Path: "/",
		MaxAge: int(oidcFlowValid / time.Second), HttpOnly: true, Secure: o.a.s.opts.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// makeRoom clears the request's unusable flow cookies (expired, or signed
// by an earlier process) and, when oidcMaxFlows are still pending, the
// oldest of them, so that the flow being started fits within the bound.
func (o *oidcHandlers) makeRoom(w http.ResponseWriter, r *http.Request) {
	prefix := o.a.s.cookieName(oidcFlowCookiePrefix)
	type pending struct {
		base string
		seq  uint64
	}
	var live []pending
	seen := 0
	for _, c := range r.Cookies() {
		if c.Name == o.a.s.cookieName(oidcLegacyCookieName) {
			o.a.s.clearCookie(w, oidcLegacyCookieName)
			continue
		}
		if !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		// Only a hand-made request carries more than a few: it gets no
		// more work, nor a longer answer, than a browser's would.
		if seen++; seen > 4*oidcMaxFlows {
			break
		}
		base := strings.TrimPrefix(c.Name, o.a.s.cookieName(""))
		f, ok := o.openFlow(c.Value)
		if !ok || flowCookieBase(f.State) != base {
			o.a.s.clearCookie(w, base)
			continue
		}
		live = append(live, pending{base: base, seq: f.Seq})
	}
	slices.SortFunc(live, func(a, b pending) int { return cmp.Compare(a.seq, b.seq) })
	for len(live) >= oidcMaxFlows {
		o.a.s.clearCookie(w, live[0].base)
		live = live[1:]
	}
}

// sealFlow encodes a flow as payload.mac, both base64url.
func (o *oidcHandlers) sealFlow(f oidcFlow) string {
	payload, _ := json.Marshal(f)
	enc := base64.RawURLEncoding.EncodeToString(payload)
	return enc + "." + base64.RawURLEncoding.EncodeToString(o.mac(enc))
}

func (o *oidcHandlers) mac(data string) []byte {
	m := hmac.New(sha256.New, o.flowKey)
	m.Write([]byte("shadowmap oidc flow v1\x00"))
	m.Write([]byte(data))
	return m.Sum(nil)
}

// openFlow returns the flow of a cookie value when it is ours and fresh.
func (o *oidcHandlers) openFlow(value string) (oidcFlow, bool) {
	if len(value) > oidcMaxCookieBytes {
		return oidcFlow{}, false
	}
	enc, sig, ok := strings.Cut(value, ".")
	if !ok {
		return oidcFlow{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, o.mac(enc)) {
		return oidcFlow{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	var f oidcFlow
	if err != nil || json.Unmarshal(payload, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return oidcFlow{}, false
	}
	if o.a.s.opts.Now().Unix() >= f.Expires {
		return oidcFlow{}, false
	}
	f.Next = safeNext(f.Next)
	return f, true
}

// takeFlow finds the pending flow of the callback's state and clears its
// cookie: one attempt per flow, whatever happens next. The other pending
// flows, of other tabs, are left alone.
func (o *oidcHandlers) takeFlow(w http.ResponseWriter, r *http.Request, state string) (oidcFlow, bool) {
	if state == "" || len(state) > oidcMaxStateBytes {
		return oidcFlow{}, false
	}
	base := flowCookieBase(state)
	c, err := r.Cookie(o.a.s.cookieName(base))
	if err != nil {
		return oidcFlow{}, false
	}
	o.a.s.clearCookie(w, base)
	f, ok := o.openFlow(c.Value)
	if !ok || !secret.Equal(f.State, state) {
		return oidcFlow{}, false
	}
	return f, true
}

// oidcExpiredView is the page of a callback without a pending flow.
type oidcExpiredView struct {
	// Provider names the identity provider on the link that starts again.
	Provider string
	// Minutes is how long a sign-in may take.
	Minutes int
}

// expired answers a callback whose flow expired, was used already, or was
// started in another browser: nothing can be done with it but start again.
func (o *oidcHandlers) expired(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o.a.s.render(w, r, http.StatusBadRequest, "oidcexpired", page{
		Title: "Sign-in link expired", Data: oidcExpiredView{Provider: o.cfg.name(), Minutes: int(oidcFlowValid / time.Minute)},
	})
}

// oidcClaims are the ID token claims the sign-in reads.
type oidcClaims struct {
	Email string `json:"email"`
	// EmailVerified is a boolean, or the string "true" from some
	// providers; absent from Entra ID, whose tenant sets the addresses.
	EmailVerified json.RawMessage `json:"email_verified"`
	// HostedDomain is Google's Workspace domain of the account.
	HostedDomain string `json:"hd"`
}

// verified reports whether email_verified, when present, says true.
func (c oidcClaims) verified() bool {
	switch v := strings.TrimSpace(string(c.EmailVerified)); v {
	case "":
		return true
	case "true", `"true"`:
		return true
	}
	return false
}

func (o *oidcHandlers) callback(w http.ResponseWriter, r *http.Request) {
	if wait := o.a.byClient.take(clientKey(r), o.a.s.opts.Now()); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		o.refuse(w, r, http.StatusTooManyRequests, "/", fmt.Sprintf("Too many sign-in attempts. Wait %d seconds, then try again.", secs))
		return
	}
	q := r.URL.Query()
	flow, ok := o.takeFlow(w, r, q.Get("state"))
	if !ok {
		o.expired(w, r)
		return
	}
	if e := q.Get("error"); e != "" {
		o.a.s.log.Info("web: oidc sign-in refused by the provider", "error", e, "client", clientKey(r))
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf("%s did not sign you in (%s).", o.cfg.name(), truncate(e, 80)))
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		o.a.s.log.Warn("web: oidc sign-in unavailable", "err", err)
		o.refuse(w, r, http.StatusBadGateway, flow.Next, fmt.Sprintf("%s could not be reached just now. Try again in a minute, or sign in with your password.", o.cfg.name()))
		return
	}
	ctx := o.clientContext(r.Context())
	tok, err := o.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		o.a.s.log.Warn("web: oidc code exchange failed", "err", err, "client", clientKey(r))
		o.refuse(w, r, http.StatusBadGateway, flow.Next, fmt.Sprintf("%s did not complete the sign-in. Please start again.", o.cfg.name()))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	verifier := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.a.s.opts.Now})
	idt, err := verifier.Verify(ctx, raw)
	if err == nil && !secret.Equal(flow.Nonce, idt.Nonce) {
		err = errors.New("nonce does not match the sign-in's")
	}
	var claims oidcClaims
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil {
		o.a.s.log.Warn("web: oidc ID token refused", "err", err, "client", clientKey(r))
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf("The answer from %s could not be verified, so you are not signed in. Please start again.", o.cfg.name()))
		return
	}
	email, problem := checkEmail(claims.Email)
	switch {
	case problem != "":
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf("%s gave no usable email address for your account, so you are not signed in.", o.cfg.name()))
		return
	case !claims.verified():
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf("%s says your email address %s is not verified, so you are not signed in.", o.cfg.name(), email))
		return
	case !o.allowed(email, claims):
		o.a.s.log.Info("web: oidc sign-in of an email not allowed", "email", email, "client", clientKey(r))
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf("%s is not allowed to sign in to shadowmap with %s.", email, o.cfg.name()))
		return
	}
	if o.a.s.opts.Accounts == nil {
		o.a.s.fail(w, r, errors.New("web: oidc sign-in without an account store"))
		return
	}
	created, err := o.ensureAccount(r.Context(), email)
	if errors.Is(err, errNoAdminAccount) {
		o.a.s.log.Info("web: oidc sign-in without an admin account", "email", email, "client", clientKey(r))
		o.refuse(w, r, http.StatusForbidden, flow.Next, fmt.Sprintf(
			"%s signed you in as %s, but that address has no shadowmap admin account, and this collector does not create admins at OIDC sign-in. "+
				"An admin can create yours with “shadowmap admin create --email %s”.", o.cfg.name(), email, email))
		return
	}
	if err != nil {
		o.a.s.fail(w, r, err)
		return
	}
	if err := o.a.s.startSession(w, r, email); err != nil {
		o.a.s.fail(w, r, err)
		return
	}
	o.a.s.log.Info("web: signed in with oidc", "email", email, "issuer", o.cfg.Issuer, "new_admin", created, "client", clientKey(r))
	http.Redirect(w, r, flow.Next, http.StatusSeeOther)
}

// allowed reports whether a verified email may sign in. An email allowed
// by its domain must, with Google, also be of that Workspace domain: a
// personal Google account can carry a company address.
func (o *oidcHandlers) allowed(email string, c oidcClaims) bool {
	if slices.Contains(o.cfg.AllowedEmails, email) {
		return true
	}
	domain := email[strings.LastIndexByte(email, '@')+1:]
	if !slices.Contains(o.cfg.AllowedDomains, domain) {
		return false
	}
	if strings.TrimRight(o.cfg.Issuer, "/") == googleIssuer {
		return strings.EqualFold(c.HostedDomain, domain)
	}
	return true
}

var errNoAdminAccount = errors.New("web: no admin account")

// ensureAccount finds the admin account of email, creating it when the
// settings allow. An account made here has a random password nobody
// knows: it signs in through the provider only, until an admin sets one.
func (o *oidcHandlers) ensureAccount(ctx context.Context, email string) (created bool, err error) {
	_, err = o.a.s.opts.Accounts.Account(ctx, email)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, collector.ErrNotFound):
		return false, fmt.Errorf("web: read account: %w", err)
	case !o.cfg.AutoCreateAdmins:
		return false, errNoAdminAccount
	}
	hash, err := hashPasswordCtx(ctx, rand.Text()+rand.Text())
	if err != nil {
		return false, err
	}
	err = o.a.s.opts.Accounts.CreateAccount(ctx, collector.Account{Email: email, PasswordHash: hash, CreatedAt: o.a.s.opts.Now()})
	if errors.Is(err, collector.ErrAccountExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("web: create admin %s at oidc sign-in: %w", email, err)
	}
	return true, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
