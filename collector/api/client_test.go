package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCollector speaks the agent API the way the collector does: the real
// decoders, JSON Error bodies, bearer tokens, idempotent batches, ETags.
// Knobs make it answer the ways a collector under stress does.
type fakeCollector struct {
	t *testing.T

	mu          sync.Mutex
	tokens      map[string]string // device token -> device id
	batches     map[string]int    // batch id -> sightings stored
	heartbeats  []Heartbeat
	rateLimited bool  // answer sightings with 429 and Retry-After
	bodyCap     int64 // when set, cap sightings bodies tighter than the API does
	catalog     []byte
	catalogETag string
}

const (
	testSecret = "enroll-secret-1"
	testToken  = "tok-0123456789abcdef"
)

func newFakeCollector(t *testing.T) *fakeCollector {
	return &fakeCollector{
		t:           t,
		tokens:      map[string]string{},
		batches:     map[string]int{},
		catalog:     []byte("catalog bundle v1"),
		catalogETag: `"v1"`,
	}
}

func (fc *fakeCollector) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEnroll, fc.enroll)
	mux.HandleFunc("POST "+PathSightings, fc.sightings)
	mux.HandleFunc("POST "+PathHeartbeat, fc.heartbeat)
	mux.HandleFunc("GET "+PathCatalog, fc.getCatalog)
	return mux
}

// start serves fc on a loopback port, under prefix.
func (fc *fakeCollector) start(prefix string) *httptest.Server {
	var h http.Handler = fc.handler()
	if prefix != "" {
		h = http.StripPrefix(prefix, h)
	}
	srv := httptest.NewServer(h)
	fc.t.Cleanup(srv.Close)
	return srv
}

func writeError(w http.ResponseWriter, status int, code string, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Error{Error: err.Error(), Code: code})
}

// writeDecodeError answers a decoding failure as the collector does.
func writeDecodeError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err)
		return
	}
	writeError(w, http.StatusBadRequest, "bad_request", err)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (fc *fakeCollector) device(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	fc.mu.Lock()
	id, known := fc.tokens[token]
	fc.mu.Unlock()
	if !ok || !known {
		writeError(w, http.StatusUnauthorized, "unauthorized", errors.New("missing or unknown device token"))
		return "", false
	}
	return id, true
}

func (fc *fakeCollector) enroll(w http.ResponseWriter, r *http.Request) {
	req, err := DecodeEnroll(r.Body)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	if req.EnrollSecret != testSecret {
		writeError(w, http.StatusUnauthorized, "unauthorized", errors.New("unknown enroll secret"))
		return
	}
	fc.mu.Lock()
	id := fmt.Sprintf("dev-%d", len(fc.tokens)+1)
	fc.tokens[testToken] = id
	fc.mu.Unlock()
	writeJSON(w, EnrollResponse{DeviceID: id, DeviceToken: testToken})
}

func (fc *fakeCollector) sightings(w http.ResponseWriter, r *http.Request) {
	if _, ok := fc.device(w, r); !ok {
		return
	}
	fc.mu.Lock()
	limited, bodyCap := fc.rateLimited, fc.bodyCap
	fc.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "7")
		writeError(w, http.StatusTooManyRequests, "rate_limited", errors.New("slow down"))
		return
	}
	if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Errorf("want gzip JSON, got %q %q", r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type")))
		return
	}
	var body io.Reader = r.Body
	if bodyCap > 0 {
		body = http.MaxBytesReader(w, r.Body, bodyCap)
	}
	// The bytes on the wire must be gzip, not JSON with a header.
	raw, err := io.ReadAll(io.LimitReader(body, MaxCompressedBytes+1))
	if err == nil && (len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b) {
		fc.t.Errorf("sightings body is not gzip on the wire: % x", raw[:min(len(raw), 8)])
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeDecodeError(w, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, mbe.Limit))
			return
		}
	}
	b, err := DecodeBatch(bytes.NewReader(raw), true, fixtureNow)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	fc.mu.Lock()
	_, dup := fc.batches[b.BatchID]
	if !dup {
		fc.batches[b.BatchID] = len(b.Sightings)
	}
	fc.mu.Unlock()
	writeJSON(w, SightingsResponse{Accepted: len(b.Sightings), Duplicate: dup})
}

func (fc *fakeCollector) heartbeat(w http.ResponseWriter, r *http.Request) {
	if _, ok := fc.device(w, r); !ok {
		return
	}
	hb, err := DecodeHeartbeat(r.Body)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	fc.mu.Lock()
	fc.heartbeats = append(fc.heartbeats, hb)
	fc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (fc *fakeCollector) getCatalog(w http.ResponseWriter, r *http.Request) {
	if _, ok := fc.device(w, r); !ok {
		return
	}
	w.Header().Set("ETag", fc.catalogETag)
	if r.Header.Get("If-None-Match") == fc.catalogETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(fc.catalog)
}

var testEnroll = EnrollRequest{
	EnrollSecret: testSecret, Hostname: "jdoe-mbp.local", OS: OSDarwin, OSVersion: "15.5", Arch: "arm64",
	AgentVersion: "0.3.0", OwnerEmail: "jdoe@acme.example", User: "jdoe",
}

func TestClientAgentLifecycle(t *testing.T) {
	fc := newFakeCollector(t)
	srv := fc.start("/shadowmap")
	ctx := t.Context()
	c := NewClient(srv.URL+"/shadowmap/", srv.Client())

	creds, err := c.Enroll(ctx, testEnroll)
	if err != nil {
		t.Fatal(err)
	}
	if creds.DeviceID != "dev-1" || creds.DeviceToken != testToken {
		t.Fatalf("enroll: got %+v", creds)
	}
	dc := c.WithToken(creds.DeviceToken)

	batch := batchOf(3)
	resp, err := dc.SendSightings(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if resp != (SightingsResponse{Accepted: 3}) {
		t.Errorf("first send: %+v", resp)
	}
	// A retry of the same batch is acknowledged as a duplicate.
	resp, err = dc.SendSightings(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if resp != (SightingsResponse{Accepted: 3, Duplicate: true}) {
		t.Errorf("replay: %+v", resp)
	}

	hb := Heartbeat{AgentVersion: "0.3.0", CaptureState: CaptureDegraded, PacketsSeen: 1e6, Drops: 12, SpoolDepth: 2, LastError: "bpf: read: device not configured", User: "jdoe", Interfaces: []string{"en0", "utun3"}}
	if err := dc.Heartbeat(ctx, hb); err != nil {
		t.Fatal(err)
	}
	if len(fc.heartbeats) != 1 || !reflect.DeepEqual(fc.heartbeats[0], hb) {
		t.Errorf("collector got heartbeats %+v", fc.heartbeats)
	}

	bundle, etag, notModified, err := dc.Catalog(ctx, "")
	if err != nil || notModified || etag != `"v1"` || string(bundle) != "catalog bundle v1" {
		t.Fatalf("catalog: %q %q %v %v", bundle, etag, notModified, err)
	}
	bundle, etag, notModified, err = dc.Catalog(ctx, etag)
	if err != nil || !notModified || etag != `"v1"` || bundle != nil {
		t.Fatalf("catalog with etag: %q %q %v %v", bundle, etag, notModified, err)
	}
	// The client without a token is still unauthenticated.
	if err := c.Heartbeat(ctx, hb); statusOf(err) != http.StatusUnauthorized {
		t.Errorf("heartbeat without token: %v", err)
	}
}

func statusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func TestClientErrorAnswers(t *testing.T) {
	fc := newFakeCollector(t)
	srv := fc.start("")
	ctx := t.Context()
	c := NewClient(srv.URL, srv.Client())
	dc := c.WithToken(testToken)
	if _, err := c.Enroll(ctx, testEnroll); err != nil {
		t.Fatal(err)
	}

	badSecret := testEnroll
	badSecret.EnrollSecret = "wrong"
	badApp := batchOf(2)
	badApp.Sightings[1].App = "Not An App"
	staleBatch := batchOf(1)
	staleBatch.Sightings[0].Day = "2025-01-01"
	staleBatch.Sightings[0].FirstSeen = time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	staleBatch.Sightings[0].LastSeen = time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)

	tests := []struct {
		name       string
		call       func() error
		setup      func()
		status     int
		code       string
		msg        string // part of the message
		retryable  bool
		tooLarge   bool
		retryAfter time.Duration
	}{
		{name: "wrong enroll secret", call: func() error { _, err := c.Enroll(ctx, badSecret); return err },
			status: 401, code: "unauthorized", msg: "unknown enroll secret"},
		{name: "invalid enroll request", call: func() error { _, err := c.Enroll(ctx, EnrollRequest{EnrollSecret: testSecret}); return err },
			status: 400, code: "bad_request", msg: "hostname: is required"},
		{name: "sightings without token", call: func() error { _, err := c.SendSightings(ctx, batchOf(1)); return err },
			status: 401, code: "unauthorized", msg: "device token"},
		{name: "sightings with a revoked token", call: func() error { _, err := c.WithToken("revoked").SendSightings(ctx, batchOf(1)); return err },
			status: 401, code: "unauthorized"},
		{name: "invalid sighting", call: func() error { _, err := dc.SendSightings(ctx, badApp); return err },
			status: 400, code: "bad_request", msg: `sightings[1].app: "Not An App" is not an app id`},
		{name: "sighting too old", call: func() error { _, err := dc.SendSightings(ctx, staleBatch); return err },
			status: 400, code: "bad_request", msg: "sightings[0].first_seen: 2025-01-01T09:00:00Z is older than 35 days"},
		{name: "body over the collector's cap", setup: func() { fc.bodyCap = 64 },
			call:   func() error { _, err := dc.SendSightings(ctx, batchOf(20)); return err },
			status: 413, code: "too_large", msg: "body over 64 bytes", tooLarge: true},
		{name: "rate limited", setup: func() { fc.bodyCap, fc.rateLimited = 0, true },
			call:   func() error { _, err := dc.SendSightings(ctx, batchOf(1)); return err },
			status: 429, code: "rate_limited", msg: "slow down", retryable: true, retryAfter: 7 * time.Second},
		{name: "invalid heartbeat", call: func() error { return dc.Heartbeat(ctx, Heartbeat{AgentVersion: "1", CaptureState: "asleep"}) },
			status: 400, code: "bad_request", msg: "capture_state"},
		{name: "catalog without token", call: func() error { _, _, _, err := c.Catalog(ctx, ""); return err },
			status: 401, code: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				fc.mu.Lock()
				tt.setup()
				fc.mu.Unlock()
			}
			err := tt.call()
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("got %T %v, want an *HTTPError", err, err)
			}
			if he.Status != tt.status || he.Code != tt.code || !strings.Contains(he.Message, tt.msg) || he.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v, want status %d code %s message ~%q retry after %s", he, tt.status, tt.code, tt.msg, tt.retryAfter)
			}
			if IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tt.retryable)
			}
			if errors.Is(err, ErrTooLarge) != tt.tooLarge {
				t.Errorf("errors.Is(err, ErrTooLarge) = %v", errors.Is(err, ErrTooLarge))
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testSecret) {
				t.Errorf("error shows a credential: %v", err)
			}
		})
	}
}

// TestClientRefusesOversizedBatches checks that a batch over the limits is
// never sent: the agent splits it.
func TestClientRefusesOversizedBatches(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, SightingsResponse{Accepted: MaxSightings})
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, srv.Client()).WithToken(testToken)

	huge := batchOf(2)
	huge.Sightings[0].User = strings.Repeat("x", MaxBatchBytes)
	for name, b := range map[string]SightingsBatch{"too many sightings": batchOf(MaxSightings + 1), "too many bytes": huge} {
		_, err := c.SendSightings(t.Context(), b)
		if !errors.Is(err, ErrTooLarge) || IsRetryable(err) {
			t.Errorf("%s: got %v, want a non-retryable ErrTooLarge", name, err)
		}
	}
	// A full batch of MaxSightings fits and goes.
	if _, err := c.SendSightings(t.Context(), batchOf(MaxSightings)); err != nil {
		t.Errorf("full batch: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestClientTroubledAnswers covers answers that are not the collector's
// JSON: proxies, crashes, cut connections, oversized bodies.
func TestClientTroubledAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/html-502"+PathHeartbeat, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>\n<body>\x1b[31m502 Bad Gateway</body></html>")
	})
	mux.HandleFunc("/empty-503"+PathHeartbeat, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT") // in the past: no wait
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/proxy-page"+PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html>Sign in to the guest Wi-Fi</html>")
	})
	mux.HandleFunc("/no-credentials"+PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, EnrollResponse{DeviceID: "dev-1"})
	})
	mux.HandleFunc("/endless"+PathSightings, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"accepted": 1, "duplicate": false, "padding": "`)
		_, _ = w.Write(bytes.Repeat([]byte("x"), MaxSmallBody))
		_, _ = io.WriteString(w, `"}`)
	})
	mux.HandleFunc("/endless"+PathCatalog, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("c"), 1<<20)
		for range MaxCatalogBytes>>20 + 1 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hangup"+PathHeartbeat, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	mux.HandleFunc("/cut"+PathCatalog, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "partial")
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := t.Context()
	client := func(prefix string) *Client { return NewClient(srv.URL+prefix, srv.Client()).WithToken(testToken) }
	hb := Heartbeat{AgentVersion: "1", CaptureState: CaptureRunning}

	t.Run("html 502", func(t *testing.T) {
		err := client("/html-502").Heartbeat(ctx, hb)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 502 || he.Code != "" || !IsRetryable(err) {
			t.Fatalf("got %v", err)
		}
		if strings.ContainsAny(he.Message, "\n\x1b") || !strings.Contains(he.Message, "502 Bad Gateway") {
			t.Errorf("message not cleaned: %q", he.Message)
		}
	})
	t.Run("empty 503 with a past date", func(t *testing.T) {
		err := client("/empty-503").Heartbeat(ctx, hb)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 503 || he.RetryAfter != 0 || he.Message != "Service Unavailable" || !IsRetryable(err) {
			t.Fatalf("got %+v", err)
		}
	})
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"captive portal page", func() error { _, err := client("/proxy-page").Enroll(ctx, testEnroll); return err }},
		{"enroll answer without token", func() error { _, err := client("/no-credentials").Enroll(ctx, testEnroll); return err }},
		{"endless JSON answer", func() error { _, err := client("/endless").SendSightings(ctx, batchOf(1)); return err }},
		{"endless catalog", func() error { _, _, _, err := client("/endless").Catalog(ctx, ""); return err }},
		{"connection hung up", func() error { return client("/hangup").Heartbeat(ctx, hb) }},
		{"answer cut off", func() error { _, _, _, err := client("/cut").Catalog(ctx, ""); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !IsRetryable(err) {
				t.Fatalf("got %v, want a retryable error", err)
			}
			if statusOf(err) != 0 {
				t.Fatalf("got an HTTPError for a 2xx answer: %v", err)
			}
		})
	}

	t.Run("server gone", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		url := gone.URL
		gone.Close()
		err := NewClient(url, nil).WithToken(testToken).Heartbeat(ctx, hb)
		if err == nil || !IsRetryable(err) {
			t.Fatalf("got %v, want a retryable network error", err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error shows the token: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := client("/hangup").Heartbeat(cctx, hb)
		if !errors.Is(err, context.Canceled) || IsRetryable(err) {
			t.Fatalf("got %v, want a non-retryable cancellation", err)
		}
	})
}

func TestNewClientBadURL(t *testing.T) {
	for _, base := range []string{"", "collector.acme.example", "ftp://collector.acme.example", "https://", "https://user:pw@collector.acme.example", "https://c.example/?x=1", "http://[::1"} {
		c := NewClient(base, nil)
		err := c.WithToken(testToken).Heartbeat(t.Context(), Heartbeat{})
		if err == nil || IsRetryable(err) {
			t.Errorf("%q: got %v, want a non-retryable error", base, err)
		}
		if strings.Contains(fmt.Sprint(err), "pw") {
			t.Errorf("%q: error shows the URL's password: %v", base, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", maxRetryAfter},
		{"9223372036", maxRetryAfter},
		{"Sun, 15 Jun 2025 12:01:30 GMT", 90 * time.Second},
		{"Sun, 15 Jun 2025 11:00:00 GMT", 0},
		{"Mon, 15 Jun 2026 12:00:00 GMT", maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
}

// timeoutError is a network error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestIsRetryable(t *testing.T) {
	var _ net.Error = timeoutError{}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"400", &HTTPError{Status: 400}, false},
		{"401", fmt.Errorf("send sightings: %w", &HTTPError{Status: 401}), false},
		{"403", &HTTPError{Status: 403}, false},
		{"408", &HTTPError{Status: 408}, true},
		{"413", &HTTPError{Status: 413}, false},
		{"429", fmt.Errorf("send sightings: %w", &HTTPError{Status: 429, RetryAfter: time.Second}), true},
		{"500", &HTTPError{Status: 500}, true},
		{"503", &HTTPError{Status: 503}, true},
		{"network timeout", &url.Error{Op: "Post", URL: "https://c.example", Err: timeoutError{}}, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"cut answer", fmt.Errorf("read answer: %w", io.ErrUnexpectedEOF), true},
		{"bad 2xx answer", fmt.Errorf("enroll: %w", errBadResponse), true},
		{"deadline", fmt.Errorf("heartbeat: %w", context.DeadlineExceeded), true},
		{"cancelled", &url.Error{Op: "Post", URL: "https://c.example", Err: context.Canceled}, false},
		{"batch too large to send", fmt.Errorf("%w: 5001 sightings", ErrTooLarge), false},
		{"validation", &ValidationError{Field: "x", Msg: "y"}, false},
		{"other", errors.New("encode batch: json: unsupported value"), false},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.err); got != tt.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestHTTPErrorMessage(t *testing.T) {
	e := &HTTPError{Status: 429, Code: "rate_limited", Message: "slow down", RetryAfter: 7 * time.Second}
	if got, want := e.Error(), "collector answered 429 rate_limited: slow down (retry after 7s)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(&HTTPError{Status: 413}, ErrTooLarge) || errors.Is(&HTTPError{Status: 400}, ErrTooLarge) {
		t.Error("only a 413 answer is ErrTooLarge")
	}
}

func BenchmarkEncodeBatch(b *testing.B) {
	batch := batchOf(50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}
