package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file is the client the agent uses to talk to the collector. It
// makes one attempt per call and says whether another may succeed
// (IsRetryable); the agent owns backoff, spooling and re-enrollment.

// MaxCatalogBytes caps the catalog bundle the client accepts.
const MaxCatalogBytes = 32 << 20

// DefaultTimeout bounds a whole request when NewClient is given no
// http.Client. Contexts bound calls further.
const DefaultTimeout = 60 * time.Second

// maxRetryAfter caps the wait a collector can ask for, so that a bad
// header cannot park an agent for a year.
const maxRetryAfter = 24 * time.Hour

// errBadResponse marks a 2xx answer the client could not use (a proxy's
// HTML page, a cut-off body): the request may well succeed later.
var errBadResponse = errors.New("unexpected answer from the collector")

// HTTPError is a 4xx or 5xx answer from the collector, with the Error body
// it carried.
type HTTPError struct {
	Status  int
	Code    string // the Error code: bad_request, unauthorized, too_large, rate_limited...
	Message string
	// RetryAfter is the wait the Retry-After header asked for, or 0.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "collector answered %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is makes a 413 answer match ErrTooLarge, so the agent handles a batch
// the collector refused for its size like one it refused itself.
func (e *HTTPError) Is(target error) bool {
	return target == ErrTooLarge && e.Status == http.StatusRequestEntityTooLarge
}

// IsRetryable reports whether sending the same request again later may
// succeed: a 408, 429 or 5xx answer, a network error or timeout, or an
// answer cut off or garbled on the way. A cancelled context, a refused
// request (other 4xx) and a batch too large to send are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusRequestTimeout || he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	if errors.Is(err, ErrTooLarge) {
		return false
	}
	var ne net.Error
	return errors.Is(err, errBadResponse) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// Client calls the collector's agent API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	baseErr error // why baseURL was refused; every call returns it
	http    *http.Client
	token   string
}

// NewClient returns a client for the collector at baseURL (http or https,
// with an optional path prefix). A nil httpClient means a fresh one with
// DefaultTimeout. A bad baseURL is reported by every call.
func NewClient(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	c := &Client{http: httpClient}
	u, err := url.Parse(baseURL)
	switch {
	case err != nil:
		// Not the *url.Error itself: it quotes the URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.baseErr = fmt.Errorf("collector URL is not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		c.baseErr = fmt.Errorf("collector URL %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		c.baseErr = fmt.Errorf("collector URL %q: no host", u.Redacted())
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		c.baseErr = fmt.Errorf("collector URL %q: must not carry credentials, a query or a fragment", u.Redacted())
	default:
		c.base = u
	}
	return c
}

// WithToken returns a copy of c that authenticates with a device token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// Enroll trades an enroll secret and host facts for device credentials.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (EnrollResponse, error) {
	var resp EnrollResponse
	if err := c.postJSON(ctx, PathEnroll, req, &resp); err != nil {
		return EnrollResponse{}, fmt.Errorf("enroll: %w", err)
	}
	if resp.DeviceID == "" || resp.DeviceToken == "" {
		return EnrollResponse{}, fmt.Errorf("enroll: %w: no device id or token", errBadResponse)
	}
	return resp, nil
}

// SendSightings uploads a batch as gzip-compressed JSON. A batch over the
// limits in api.go is not sent: the error wraps ErrTooLarge, as does a
// 413 answer, and the agent splits the batch.
func (c *Client) SendSightings(ctx context.Context, b SightingsBatch) (SightingsResponse, error) {
	body, err := encodeBatch(b)
	if err != nil {
		return SightingsResponse{}, fmt.Errorf("send sightings: %w", err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}
	var resp SightingsResponse
	if err := c.call(ctx, http.MethodPost, PathSightings, hdr, body, &resp); err != nil {
		return SightingsResponse{}, fmt.Errorf("send sightings: %w", err)
	}
	return resp, nil
}

// encodeBatch marshals and compresses a batch, checking it fits.
func encodeBatch(b SightingsBatch) ([]byte, error) {
	if len(b.Sightings) > MaxSightings {
		return nil, fmt.Errorf("%w: %d sightings, at most %d in one batch", ErrTooLarge, len(b.Sightings), MaxSightings)
	}
	if len(b.UnknownDomains) > MaxUnknownDomains {
		return nil, fmt.Errorf("%w: %d unknown domains, at most %d in one batch", ErrTooLarge, len(b.UnknownDomains), MaxUnknownDomains)
	}
	if b.Sightings == nil {
		// A batch of unknown domains alone still sends an array: the
		// collector refuses "sightings": null.
		b.Sightings = []Sighting{}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if len(raw) > MaxBatchBytes {
		return nil, fmt.Errorf("%w: batch is %d bytes of JSON, at most %d", ErrTooLarge, len(raw), MaxBatchBytes)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	if buf.Len() > MaxCompressedBytes {
		return nil, fmt.Errorf("%w: batch is %d bytes compressed, at most %d", ErrTooLarge, buf.Len(), MaxCompressedBytes)
	}
	return buf.Bytes(), nil
}

// Heartbeat reports the agent's health.
func (c *Client) Heartbeat(ctx context.Context, hb Heartbeat) error {
	if err := c.postJSON(ctx, PathHeartbeat, hb, nil); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Catalog fetches the signature catalog bundle. With the ETag of the
// bundle the agent has, an unchanged catalog comes back as notModified
// with no bundle.
func (c *Client) Catalog(ctx context.Context, etag string) (bundle []byte, newETag string, notModified bool, err error) {
	hdr := http.Header{}
	if etag != "" {
		hdr.Set("If-None-Match", etag)
	}
	resp, err := c.do(ctx, http.MethodGet, PathCatalog, hdr, nil)
	if err != nil {
		return nil, "", false, fmt.Errorf("catalog: %w", err)
	}
	defer closeBody(resp)
	newETag = resp.Header.Get("ETag")
	if resp.StatusCode == http.StatusNotModified {
		if newETag == "" {
			newETag = etag
		}
		return nil, newETag, true, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, "", false, fmt.Errorf("catalog: %w", readHTTPError(resp))
	}
	bundle, err = readBounded(resp.Body, MaxCatalogBytes)
	if err != nil {
		return nil, "", false, fmt.Errorf("catalog: %w", err)
	}
	return bundle, newETag, false, nil
}

// postJSON sends v as a JSON body and decodes a JSON answer into out,
// unless out is nil.
func (c *Client) postJSON(ctx context.Context, path string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	if len(body) > MaxSmallBody {
		return fmt.Errorf("%w: request is %d bytes, at most %d", ErrTooLarge, len(body), MaxSmallBody)
	}
	return c.call(ctx, http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, body, out)
}

// call makes a request that must answer 2xx and decodes the JSON answer
// into out, unless out is nil.
func (c *Client) call(ctx context.Context, method, path string, hdr http.Header, body []byte, out any) error {
	resp, err := c.do(ctx, method, path, hdr, body)
	if err != nil {
		return err
	}
	defer closeBody(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readHTTPError(resp)
	}
	if out == nil {
		return nil
	}
	data, err := readBounded(resp.Body, MaxSmallBody)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %v", errBadResponse, err)
	}
	return nil
}

// do sends one request. body, when not nil, is sent with a Content-Length
// and can be replayed on a redirect.
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body []byte) (*http.Response, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), r)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error naming method and URL; never the token
	}
	return resp, nil
}

// readHTTPError builds the HTTPError for a non-2xx answer from its Error
// body, or from whatever text it carried.
func readHTTPError(resp *http.Response) *HTTPError {
	e := &HTTPError{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	data, _ := readBounded(resp.Body, MaxSmallBody) // an unreadable body still leaves the status
	var body Error
	if err := json.Unmarshal(data, &body); err == nil && (body.Error != "" || body.Code != "") {
		e.Code, e.Message = clean(body.Code), clean(body.Error)
	} else {
		e.Message = clean(string(data))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// clean makes text from the collector fit for the agent's logs: one line,
// printable, at most 512 bytes.
func clean(s string) string {
	const max = 512
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		if !isPrintableRune(r) {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// readBounded reads all of r, failing past limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: answer over %d bytes", errBadResponse, limit)
	}
	return data, nil
}

// closeBody drains a little of what is left, so the connection can be
// reused, and closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}
