package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseBytes caps one API response an importer reads: pages of
// events are a few megabytes at most, and a larger answer is an error,
// not a reason to run out of memory.
const MaxResponseBytes = 64 << 20

// APIError is an answer an API gave that the importer cannot use: bad
// credentials, missing permissions, a licence the tenant lacks. Message
// is for IT: what failed and what to do.
type APIError struct {
	Status  int
	Message string
	// Body is the start of the API's own error text (never credentials).
	Body string
	// retryAfter is the server's Retry-After on a 429 or 5xx.
	retryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Body != "" {
		msg += " (" + e.Body + ")"
	}
	return msg
}

// Retry says how an API call is retried.
type Retry struct {
	// Attempts is the most tries of one call; 0 means 5.
	Attempts int
	// Base is the first backoff; 0 means 1s. It doubles, with jitter.
	Base time.Duration
	// MaxWait caps one wait, including a server's Retry-After; 0 means
	// 2 minutes.
	MaxWait time.Duration
	// Sleep waits; nil means a timer that ctx cancels. Tests give a fake.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.MaxWait <= 0 {
		r.MaxWait = 2 * time.Minute
	}
	if r.Sleep == nil {
		r.Sleep = Sleep
	}
	return r
}

// Sleep waits for d, or until ctx ends (its error then). Importers use
// it, through Retry.Wait, for waits of their own such as rate-limit
// pauses.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wait waits for d with r.Sleep, or with Sleep when r has none, so a test
// that fakes r.Sleep fakes every wait.
func (r Retry) Wait(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Explain turns a failed answer into an APIError with a message for IT;
// importers pass their own to GetJSON to name the permission or licence
// their API needs. The default explains 401 and 403.
type Explain func(status int, body []byte) string

// DefaultExplain says what 401 and 403 usually mean.
func DefaultExplain(status int, body []byte) string {
	switch status {
	case http.StatusUnauthorized:
		return "the credentials were refused: check that they are current"
	case http.StatusForbidden:
		return "permission denied: the credentials lack a scope or role this import needs"
	case http.StatusNotFound:
		return "not found: check the organisation or tenant URL"
	}
	return ""
}

// Do sends the request made by newReq, retrying 429 (after Retry-After
// when the server gives one), 5xx and network errors with exponential
// backoff and jitter, and returns the first 2xx response with its body
// read (at most MaxResponseBytes). Other answers become an *APIError.
// newReq is called for every attempt, so each has a fresh body.
func Do(ctx context.Context, hc *http.Client, retry Retry, explain Explain, newReq func(ctx context.Context) (*http.Request, error)) (*http.Response, []byte, error) {
	retry = retry.withDefaults()
	if explain == nil {
		explain = DefaultExplain
	}
	var lastErr error
	for attempt := 0; attempt < retry.Attempts; attempt++ {
		if attempt > 0 {
			wait := backoff(retry, attempt)
			var ae *APIError
			if errors.As(lastErr, &ae) && ae.retryAfter > 0 {
				wait = min(ae.retryAfter, retry.MaxWait)
			}
			if err := retry.Sleep(ctx, wait); err != nil {
				return nil, nil, errors.Join(lastErr, err)
			}
		}
		req, err := newReq(ctx)
		if err != nil {
			return nil, nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			lastErr = err
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
		resp.Body.Close()
		if err != nil {
			lastErr = fmt.Errorf("read response: %w", err)
			continue
		}
		if len(body) > MaxResponseBytes {
			return resp, nil, fmt.Errorf("response larger than %d bytes", MaxResponseBytes)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, body, nil
		}
		ae := &APIError{Status: resp.StatusCode, Message: explain(resp.StatusCode, body), Body: snippet(body)}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			ae.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			if resp.StatusCode == http.StatusTooManyRequests && ae.Message == "" {
				ae.Message = "rate limited"
			}
			lastErr = ae
			continue
		}
		return resp, body, ae
	}
	return nil, nil, fmt.Errorf("gave up after %d attempts: %w", retry.Attempts, lastErr)
}

// GetJSON GETs url with the headers and decodes the JSON answer into out.
// It returns the response, for Link headers and rate-limit headers.
func GetJSON(ctx context.Context, hc *http.Client, retry Retry, explain Explain, url string, header http.Header, out any) (*http.Response, error) {
	resp, body, err := Do(ctx, hc, retry, explain, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	})
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(body, out); err != nil {
		// A page cut short (a proxy, a dropped connection) is an error:
		// the run stops before its checkpoint moves past this page.
		return resp, fmt.Errorf("decode %s: %w", redactURL(url), err)
	}
	return resp, nil
}

func backoff(r Retry, attempt int) time.Duration {
	d := r.Base << min(attempt-1, 16)
	d = min(d, r.MaxWait)
	// Full jitter over the upper half, so many collectors do not retry
	// in step.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// snippet is the start of an error body, on one line, for messages.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 300 {
		// Cut on a rune boundary, so the message stays valid UTF-8.
		cut := 300
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// redactURL drops a URL's query (it may hold tokens or cursors) for
// messages.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
