package google

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"
	directory "google.golang.org/api/admin/directory/v1"
	reports "google.golang.org/api/admin/reports/v1"
	"google.golang.org/api/option"

	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// Source is the importer's name: `shadowmap import google`, source health.
const Source = "google"

// IdP is the collector.IdPApp.IdP of the SAML apps Google signs people into.
const IdP = "google_workspace"

// provider is the collector.OAuthGrant.Provider of Google grants, and the
// scope table's provider.
const provider = "google"

// RequiredScopes are the read-only scopes the service account's
// domain-wide delegation must grant.
func RequiredScopes() []string {
	return []string{
		reports.AdminReportsAuditReadonlyScope,
		directory.AdminDirectoryUserReadonlyScope,
		directory.AdminDirectoryUserSecurityScope,
	}
}

// maxBackfill is what the Reports API keeps.
const maxBackfill = config.DefaultGoogleBackfill

// Options tune the API importer.
type Options struct {
	// Retry says how API calls are retried (429, 5xx, network errors).
	Retry sources.Retry
	// Concurrency is how many users' tokens are listed at once; 0 means 4.
	Concurrency int
	// Window is the span of one Reports API read, checkpointed when
	// stored; 0 means a day.
	Window time.Duration
	// Overlap is how far before the checkpoint a run reads again, for
	// events Google logs late; 0 means an hour. Dedupe keys make the
	// re-read harmless.
	Overlap time.Duration
	// SweepTokens lists every user's tokens in this run even when the
	// last sweep is more recent than the configured interval: an admin's
	// one-shot `shadowmap import google --sweep-tokens`.
	SweepTokens bool
}

// Importer reads Google Workspace through the Admin SDK.
type Importer struct {
	jwt      []byte // the service account key, parsed per run
	admin    string
	customer string
	backfill time.Duration
	// sweepEvery is the least time between two Directory token sweeps.
	sweepEvery time.Duration
	endpoint   string
	opts       Options
	// clientEmail is the service account's, for messages.
	clientEmail string
}

// New checks cfg and reads the service account key. The key stays in
// memory and never appears in errors or logs.
func New(cfg config.Google, opts Options) (*Importer, error) {
	if cfg.CredentialsFile == "" {
		return nil, errors.New("google: credentials_file is required")
	}
	if !strings.Contains(cfg.AdminEmail, "@") {
		return nil, errors.New("google: admin_email must be the email of the admin the service account acts as")
	}
	key, err := os.ReadFile(cfg.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("google: read service account key: %w", err)
	}
	jc, err := jwtConfig(key, cfg.AdminEmail)
	if err != nil {
		return nil, err
	}
	imp := &Importer{jwt: key, clientEmail: jc.Email, admin: cfg.AdminEmail, customer: cfg.Customer, backfill: cfg.Backfill, sweepEvery: cfg.TokenSweepInterval, endpoint: cfg.Endpoint, opts: opts}
	if imp.customer == "" {
		imp.customer = "my_customer"
	}
	if imp.backfill <= 0 || imp.backfill > maxBackfill {
		imp.backfill = maxBackfill
	}
	if imp.sweepEvery <= 0 {
		imp.sweepEvery = config.DefaultGoogleTokenSweepInterval
	}
	if imp.opts.Concurrency <= 0 {
		imp.opts.Concurrency = 4
	}
	if imp.opts.Window <= 0 {
		imp.opts.Window = 24 * time.Hour
	}
	if imp.opts.Overlap <= 0 {
		imp.opts.Overlap = time.Hour
	}
	return imp, nil
}

func jwtConfig(key []byte, admin string) (*jwt.Config, error) {
	c, err := googleoauth.JWTConfigFromJSON(key, RequiredScopes()...)
	if err != nil {
		// The parse error names a field or a type, never key material.
		return nil, fmt.Errorf("google: the credentials file is not a service account key: %w", err)
	}
	c.Subject = admin
	return c, nil
}

// Name is the source's name.
func (imp *Importer) Name() string { return Source }

// services are one run's API clients.
type services struct {
	reports   *reports.Service
	directory *directory.Service
}

// connect builds the run's clients: the token endpoint and the Admin SDK
// are both reached through env.HTTP's transport, with retries.
func (imp *Importer) connect(ctx context.Context, env *sources.Env) (*services, error) {
	jc, err := jwtConfig(imp.jwt, imp.admin)
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport
	timeout := 2 * time.Minute
	if env.HTTP != nil {
		if env.HTTP.Transport != nil {
			base = env.HTTP.Transport
		}
		if env.HTTP.Timeout > 0 {
			timeout = env.HTTP.Timeout
		}
	}
	// The token endpoint's refusals pass through as answers, so the
	// oauth2 package returns them as *oauth2.RetrieveError.
	tokenClient := &http.Client{Transport: &retryTransport{base: base, timeout: timeout, retry: imp.opts.Retry, passRefusals: true}}
	ts := jc.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, tokenClient))
	// The timeout bounds each attempt, not the retries' waits (a
	// Retry-After can be long): the run's ctx bounds those.
	apiClient := &http.Client{Transport: &oauth2.Transport{
		Source: ts,
		Base:   &retryTransport{base: base, timeout: timeout, retry: imp.opts.Retry, explain: explainAPI(imp.admin)},
	}}
	opts := []option.ClientOption{option.WithHTTPClient(apiClient)}
	if imp.endpoint != "" {
		ep := imp.endpoint
		if !strings.HasSuffix(ep, "/") {
			ep += "/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	rs, err := reports.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google reports client: %w", err)
	}
	ds, err := directory.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google directory client: %w", err)
	}
	return &services{reports: rs, directory: ds}, nil
}

// Import reads token and SAML events since the checkpoint, then, when a
// sweep is due, every user's current tokens.
func (imp *Importer) Import(ctx context.Context, env *sources.Env) error {
	svc, err := imp.connect(ctx, env)
	if err != nil {
		return err
	}
	if err := imp.importReports(ctx, env, svc.reports); err != nil {
		return err
	}
	due, err := imp.sweepDue(ctx, env)
	if err != nil || !due {
		return err
	}
	return imp.importTokens(ctx, env, svc.directory)
}

// retryTransport sends every request through sources.Do, so the Admin SDK
// clients get its retries, size cap and error messages.
type retryTransport struct {
	base    http.RoundTripper
	timeout time.Duration // of one attempt
	retry   sources.Retry
	explain sources.Explain
	// passRefusals returns 4xx answers other than 429 as responses
	// rather than errors.
	passRefusals bool
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	hc := &http.Client{Transport: t.base, Timeout: t.timeout}
	resp, body, err := sources.Do(req.Context(), hc, t.retry, t.explain, func(ctx context.Context) (*http.Request, error) {
		r := req.Clone(ctx)
		if req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = b
		}
		return r, nil
	})
	if req.Body != nil {
		req.Body.Close()
	}
	var ae *sources.APIError
	if err != nil && t.passRefusals && resp != nil && errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// explainAPI names what a refused Admin SDK call needs.
func explainAPI(admin string) sources.Explain {
	return func(status int, body []byte) string {
		switch status {
		case http.StatusUnauthorized:
			return "Google refused the access token: check the service account key is current and not deleted"
		case http.StatusForbidden:
			return fmt.Sprintf("permission denied: %s must be an admin with the Reports and Users read privileges, and the service account's domain-wide delegation must grant %s", admin, strings.Join(RequiredScopes(), ", "))
		case http.StatusNotFound:
			return "not found: check the customer id (my_customer by default)"
		}
		return sources.DefaultExplain(status, body)
	}
}

// explainToken says why Google's token endpoint refused the service
// account: the OAuth error code in its answer tells.
func explainToken(clientEmail string, status int, body []byte) string {
	b := string(body)
	switch {
	case strings.Contains(b, "unauthorized_client"):
		return fmt.Sprintf("the service account %s is not allowed to act as the admin: in the Admin console (Security > API controls > Domain-wide delegation) add its client id with the scopes %s", clientEmail, strings.Join(RequiredScopes(), ", "))
	case strings.Contains(b, "invalid_grant"):
		return "Google refused the service account's assertion: check admin_email is an existing admin, the key is not deleted, and the clock is right"
	case strings.Contains(b, "invalid_client"):
		return "Google does not know the service account key: it was deleted or the file is for another project"
	case status == http.StatusUnauthorized || status == http.StatusBadRequest:
		return "Google refused the service account credentials"
	}
	return ""
}

// apiError unwraps the *sources.APIError that the transport returned
// through the client, so messages do not repeat the request URL, and
// explains a refused token.
func (imp *Importer) apiError(err error) error {
	var ae *sources.APIError
	if errors.As(err, &ae) {
		return ae
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &sources.APIError{Status: status, Message: "get access token: " + explainToken(imp.clientEmail, status, re.Body), Body: oauthErrorCode(re)}
	}
	return err
}

// oauthErrorCode is the OAuth error code of a token refusal, never its
// whole body.
func oauthErrorCode(re *oauth2.RetrieveError) string {
	if re.ErrorCode != "" {
		return re.ErrorCode
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(re.Body, &e) == nil {
		return e.Error
	}
	return ""
}
