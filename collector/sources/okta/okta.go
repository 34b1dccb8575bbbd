// Package okta imports what an Okta org knows about the company's apps:
// the System Log's single sign-on and OAuth 2.0 events become sso_login
// evidence (who signed in to which app, on which day), and the Apps API
// becomes the IdP app list (which apps are inside Okta, how people sign
// in, whether Okta provisions accounts).
//
// It speaks the Okta management API over plain net/http with an API token
// ("Authorization: SSWS <token>") of a read-only administrator, pages by
// RFC 8288 Link headers, and slows down on Okta's X-Rate-Limit-* headers
// before it is refused.
package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// Name is the source's name in health, logs, checkpoints and evidence
// dedupe keys.
const Name = "okta"

// Retention is how long Okta keeps System Log events; asking for older
// ones is refused, so the window never starts before it.
const Retention = 90 * 24 * time.Hour

// Options tune the importer; the zero value is right for production.
type Options struct {
	// Retry says how calls are retried (429, 5xx); its Sleep also waits
	// out Okta's rate-limit windows, so tests do not wait.
	Retry sources.Retry
	// LogPageSize is the System Log page size (limit); 0 means 1000,
	// Okta's maximum.
	LogPageSize int
	// AppPageSize is the Apps API page size; 0 means 200.
	AppPageSize int
	// RateLimitReserve is the share of a rate-limit window (0..1) left
	// for the org's other API clients: when fewer calls than that remain,
	// the importer waits for the window to reset. 0 means 0.1.
	RateLimitReserve float64
}

// Importer reads one Okta org.
type Importer struct {
	base     *url.URL
	token    string
	backfill time.Duration
	opts     Options
}

// New checks cfg and returns the importer for its org.
func New(cfg config.Okta, opts Options) (*Importer, error) {
	raw := strings.TrimSpace(cfg.URL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("okta: url %q: want the org's URL, such as https://acme.okta.com", raw)
	}
	// Only the org's origin matters: API paths are added to it.
	u = &url.URL{Scheme: u.Scheme, Host: u.Host}
	token := strings.TrimSpace(cfg.Token.Reveal())
	if token == "" {
		return nil, errors.New("okta: an API token is required (token or token_file)")
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, errors.New("okta: the API token holds a line break: check token_file")
	}
	backfill := cfg.Backfill
	if backfill <= 0 {
		backfill = config.DefaultOktaBackfill
	}
	if opts.LogPageSize <= 0 || opts.LogPageSize > 1000 {
		opts.LogPageSize = 1000
	}
	if opts.AppPageSize <= 0 || opts.AppPageSize > 200 {
		opts.AppPageSize = 200
	}
	if opts.RateLimitReserve <= 0 || opts.RateLimitReserve >= 1 {
		opts.RateLimitReserve = 0.1
	}
	return &Importer{base: u, token: token, backfill: backfill, opts: opts}, nil
}

// Name returns "okta".
func (*Importer) Name() string { return Name }

// Import reads the app list first, so sign-in events map through the
// apps' URLs and IT's manual mappings, then the System Log since the
// last checkpoint.
func (im *Importer) Import(ctx context.Context, env *sources.Env) error {
	apps, appErr := im.importApps(ctx, env)
	if appErr != nil {
		var ae *sources.APIError
		// A refused token fails every call: say it once.
		if ctx.Err() != nil || (errors.As(appErr, &ae) && ae.Status == http.StatusUnauthorized) {
			return appErr
		}
		env.Log.Warn("okta app list failed; sign-ins are mapped by app name only", "err", appErr)
	}
	logErr := im.importSystemLog(ctx, env, apps)
	return errors.Join(appErr, logErr)
}

// header is what every call sends. The token is only ever put here.
func (im *Importer) header() http.Header {
	return http.Header{"Authorization": {"SSWS " + im.token}}
}

// endpoint is the org's URL for an API path and query.
func (im *Importer) endpoint(path string, q url.Values) string {
	u := *im.base
	u.Path = path
	u.RawQuery = q.Encode()
	return u.String()
}

// explain names what Okta's refusals mean and what IT should do.
func explain(status int, body []byte) string {
	switch status {
	case http.StatusUnauthorized:
		return "Okta refused the API token: it is invalid, revoked or expired (Okta expires tokens unused for 30 days); " +
			"create a new one under Security > API > Tokens while signed in as a read-only administrator"
	case http.StatusForbidden:
		return "the API token's administrator lacks a permission: the import needs the Read-Only Administrator role " +
			"(or higher) to read the System Log (/api/v1/logs) and the apps (/api/v1/apps)"
	case http.StatusNotFound:
		return "not found: check that sources.okta.url is the org's URL, such as https://acme.okta.com"
	}
	return ""
}

// get GETs one page of JSON into out.
func (im *Importer) get(ctx context.Context, env *sources.Env, u string, out any) (*http.Response, error) {
	return sources.GetJSON(ctx, env.HTTP, im.opts.Retry, explain, u, im.header(), out)
}

// eachPage GETs the list at u a page at a time, following the Link
// header's next page, and calls fn with each page's items; an empty page
// ends the list. Before each next call it paces by the rate-limit
// headers of the last answer. what names the list in errors ("okta apps
// page 3: ...").
func (im *Importer) eachPage(ctx context.Context, env *sources.Env, what, u string, fn func(page int, raws []json.RawMessage) error) error {
	for page := 1; u != ""; page++ {
		var raws []json.RawMessage
		resp, err := im.get(ctx, env, u, &raws)
		if err != nil {
			return fmt.Errorf("%s page %d: %w", what, page, err)
		}
		if len(raws) == 0 {
			return nil // the list, or the window, is done
		}
		if err := fn(page, raws); err != nil {
			return fmt.Errorf("%s page %d: %w", what, page, err)
		}
		if u, err = im.next(u, resp.Header); err != nil {
			return fmt.Errorf("%s page %d: %w", what, page, err)
		}
		if u != "" {
			if err := im.pace(ctx, env, resp.Header); err != nil {
				return fmt.Errorf("%s page %d: %w", what, page+1, err)
			}
		}
	}
	return nil
}

// pace waits, before the next call to the same endpoint, when the last
// answer said Okta's rate-limit window is nearly spent: Okta counts each
// endpoint apart, and other integrations share the org's limits.
func (im *Importer) pace(ctx context.Context, env *sources.Env, h http.Header) error {
	wait := rateLimitWait(h, env.Now(), im.opts.RateLimitReserve)
	if wait <= 0 {
		return nil
	}
	env.Log.Info("okta rate limit nearly spent; waiting for the window to reset", "wait", wait)
	return im.opts.Retry.Wait(ctx, wait)
}

// next returns the absolute URL of the page after the one at current,
// from the Link header; "" at the end. A next link to another origin is
// an error: following it would send the token there.
func (im *Importer) next(current string, h http.Header) (string, error) {
	ref := NextLink(h)
	if ref == "" {
		return "", nil
	}
	cur, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	n, err := cur.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad next link: %w", err)
	}
	if n.Scheme != im.base.Scheme || n.Host != im.base.Host {
		return "", fmt.Errorf("next link leads to %s://%s, not the org %s: not followed", n.Scheme, n.Host, im.base.Host)
	}
	s := n.String()
	if s == current {
		// A server that links a page to itself would loop forever.
		return "", nil
	}
	return s, nil
}

// maxRateLimitWait caps one wait for a rate-limit reset: Okta's windows
// are a minute long, so a reset further away is a clock problem.
const maxRateLimitWait = 2 * time.Minute

// rateLimitWait reads Okta's X-Rate-Limit-Limit, -Remaining and -Reset
// (Unix seconds) and returns how long to wait before the next call: until
// the reset when fewer than reserve of the window's calls remain, else 0.
// The server's Date, when given, is the clock the reset is compared with,
// so a skewed local clock does not matter.
func rateLimitWait(h http.Header, now time.Time, reserve float64) time.Duration {
	remaining, ok := headerInt(h, "X-Rate-Limit-Remaining")
	if !ok {
		return 0
	}
	threshold := int64(1)
	if limit, ok := headerInt(h, "X-Rate-Limit-Limit"); ok && limit > 0 {
		threshold = max(1, int64(float64(limit)*reserve))
	}
	if remaining >= threshold {
		return 0
	}
	reset, ok := headerInt(h, "X-Rate-Limit-Reset")
	if !ok {
		return 0
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	// One second more: the reset second itself may still be in the window.
	wait := time.Unix(reset, 0).Sub(now) + time.Second
	if wait <= 0 {
		return 0
	}
	return min(wait, maxRateLimitWait)
}

func headerInt(h http.Header, key string) (int64, bool) {
	v := strings.TrimSpace(h.Get(key))
	var n int64
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// idpAppReader is the read side of the IdP app store; the SQLite store
// has it. Through it the importer sees IT's manual mappings.
type idpAppReader interface {
	IdPApps(ctx context.Context) ([]collector.IdPApp, error)
}
