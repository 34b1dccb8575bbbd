package entra

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// Name is the source's name in health, logs, checkpoints and
// `shadowmap import entra`; dedupe keys start with it.
const Name = "entra"

// Provider is the OAuth grant provider of Entra grants.
const Provider = "microsoft"

// Default endpoints; config.Entra's GraphURL and LoginURL replace them.
const (
	DefaultGraphURL = "https://graph.microsoft.com"
	DefaultLoginURL = "https://login.microsoftonline.com"
)

// signInOverlap is how far before the checkpoint each run reads again:
// Entra delivers some sign-ins minutes late, with an earlier
// createdDateTime than ones already read. Dedupe keys make the re-read
// harmless.
const signInOverlap = time.Hour

// Options tune the importer.
type Options struct {
	// Retry is how Graph and token calls are retried (tests make Sleep
	// instant).
	Retry sources.Retry
	// PageSize is the $top of sign-in pages; 0 means 500 (Graph's
	// largest for sign-ins).
	PageSize int
}

// Importer reads one Entra tenant through Microsoft Graph.
type Importer struct {
	tenant   string
	clientID string
	secret   string
	backfill time.Duration
	graphURL string // without a trailing slash, without /v1.0
	graph    *url.URL
	tokenURL string
	retry    sources.Retry
	pageSize int
}

// tenantPattern is a tenant id (a GUID) or a tenant domain
// (acme.onmicrosoft.com): it becomes a path segment of the token URL.
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)

// New makes the importer for the tenant cfg names.
func New(cfg config.Entra, opts Options) (*Importer, error) {
	tenant := strings.TrimSpace(cfg.TenantID)
	if !tenantPattern.MatchString(tenant) {
		return nil, fmt.Errorf("entra: tenant_id %q is not a tenant id or domain", tenant)
	}
	if strings.TrimSpace(cfg.ClientID) == "" || cfg.ClientSecret == "" {
		return nil, errors.New("entra: client_id and client_secret are required")
	}
	graphURL := strings.TrimRight(cmpOr(cfg.GraphURL, DefaultGraphURL), "/")
	loginURL := strings.TrimRight(cmpOr(cfg.LoginURL, DefaultLoginURL), "/")
	g, err := url.Parse(graphURL)
	if err != nil || g.Host == "" || (g.Scheme != "https" && g.Scheme != "http") {
		return nil, fmt.Errorf("entra: graph_url %q is not an http(s) URL", graphURL)
	}
	if l, err := url.Parse(loginURL); err != nil || l.Host == "" || (l.Scheme != "https" && l.Scheme != "http") {
		return nil, fmt.Errorf("entra: login_url %q is not an http(s) URL", loginURL)
	}
	backfill := cfg.Backfill
	if backfill <= 0 {
		backfill = config.DefaultEntraBackfill
	}
	pageSize := opts.PageSize
	if pageSize <= 0 || pageSize > 1000 {
		pageSize = 500
	}
	return &Importer{
		tenant:   tenant,
		clientID: strings.TrimSpace(cfg.ClientID),
		secret:   cfg.ClientSecret.Reveal(),
		backfill: backfill,
		graphURL: graphURL,
		graph:    g,
		tokenURL: loginURL + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token",
		retry:    opts.Retry,
		pageSize: pageSize,
	}, nil
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return strings.TrimSpace(a)
	}
	return b
}

// Name returns "entra".
func (im *Importer) Name() string { return Name }

// Import reads the tenant: enterprise apps first (their catalog mapping
// also maps sign-ins), then delegated permission grants, then sign-ins
// since the checkpoint. A tenant without Entra ID P1/P2 cannot read
// sign-ins: the rest is still imported and the run fails with a message
// that says so. Any other failure of one part does not stop the others.
func (im *Importer) Import(ctx context.Context, env *sources.Env) error {
	c := &client{im: im, hc: env.HTTP, now: env.Now}
	// Without a token nothing works: say so once, not three times.
	env.Progress.SetStage("token")
	if _, err := c.accessToken(ctx); err != nil {
		return err
	}
	var errs []error
	env.Progress.SetStage("service principals")
	sps, err := im.importApps(ctx, env, c)
	if err != nil {
		errs = append(errs, err)
	}
	if ctx.Err() != nil {
		return errors.Join(append(errs, ctx.Err())...)
	}
	if sps != nil {
		env.Progress.SetStage("permission grants")
		if err := im.importGrants(ctx, env, c, sps); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, errors.New("entra permission grants: skipped, the service principal list is needed to name their apps"))
	}
	if ctx.Err() != nil {
		return errors.Join(append(errs, ctx.Err())...)
	}
	env.Progress.SetStage("sign-ins")
	if err := im.importSignIns(ctx, env, c, sps); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
