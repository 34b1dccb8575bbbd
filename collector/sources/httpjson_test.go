package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// sleeps is a fake Retry.Sleep: it records every wait and returns at
// once, so retry tests never sleep.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// scripted serves the answers in order, one per request, repeating the
// last; it counts the requests.
type scripted struct {
	hits    atomic.Int64
	answers []func(w http.ResponseWriter, r *http.Request)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.hits.Add(1)) - 1
	s.answers[min(n, len(s.answers)-1)](w, r)
}

func status(code int, header map[string]string, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func ok(body string) func(http.ResponseWriter, *http.Request) {
	return status(http.StatusOK, map[string]string{"Content-Type": "application/json"}, body)
}

// cutConnection drops the connection before any answer: a network error.
func cutConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// cutBody promises a longer body than it sends and drops the connection:
// a page cut short on the wire.
func cutBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "1000")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"items":[`)
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func serve(t *testing.T, answers ...func(http.ResponseWriter, *http.Request)) (*httptest.Server, *scripted) {
	t.Helper()
	s := &scripted{answers: answers}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

type page struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	Next string `json:"next"`
}

func TestGetJSONRetries(t *testing.T) {
	tests := []struct {
		name    string
		answers []func(http.ResponseWriter, *http.Request)
		// check the recorded waits.
		waits    func(t *testing.T, waits []time.Duration)
		wantHits int64
	}{
		{
			name:     "429 with Retry-After seconds",
			answers:  []func(http.ResponseWriter, *http.Request){status(429, map[string]string{"Retry-After": "7"}, `{"error":"slow down"}`), ok(`{"items":[{"id":"a"}]}`)},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] != 7*time.Second {
					t.Errorf("waits %v, want [7s]", waits)
				}
			},
		},
		{
			name: "429 with Retry-After as an HTTP date",
			answers: []func(http.ResponseWriter, *http.Request){
				func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", time.Now().Add(45*time.Second).UTC().Format(http.TimeFormat))
					w.WriteHeader(429)
				},
				ok(`{"items":[]}`),
			},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				// The date has whole seconds and the clock moved on a little.
				if len(waits) != 1 || waits[0] <= 35*time.Second || waits[0] > 45*time.Second {
					t.Errorf("waits %v, want one of about 45s", waits)
				}
			},
		},
		{
			name:     "Retry-After longer than MaxWait is capped",
			answers:  []func(http.ResponseWriter, *http.Request){status(429, map[string]string{"Retry-After": "3600"}, ""), ok(`{}`)},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] != time.Minute {
					t.Errorf("waits %v, want [1m]", waits)
				}
			},
		},
		{
			name:     "5xx then success backs off with jitter",
			answers:  []func(http.ResponseWriter, *http.Request){status(503, nil, "busy"), status(502, nil, "<html>bad gateway</html>"), status(500, nil, ""), ok(`{"items":[{"id":"a"}]}`)},
			wantHits: 4,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 3 {
					t.Fatalf("waits %v, want 3", waits)
				}
				// Base 1s doubling; each wait in the upper half of its step.
				for i, w := range waits {
					step := time.Second << i
					if w < step/2 || w > step {
						t.Errorf("wait %d = %v, want within [%v, %v]", i, w, step/2, step)
					}
				}
			},
		},
		{
			name:     "503 with Retry-After",
			answers:  []func(http.ResponseWriter, *http.Request){status(503, map[string]string{"Retry-After": "2"}, ""), ok(`{}`)},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] != 2*time.Second {
					t.Errorf("waits %v, want [2s]", waits)
				}
			},
		},
		{
			name:     "network error then success",
			answers:  []func(http.ResponseWriter, *http.Request){cutConnection, ok(`{"items":[{"id":"a"}]}`)},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 {
					t.Errorf("waits %v, want one", waits)
				}
			},
		},
		{
			name:     "body cut on the wire then success",
			answers:  []func(http.ResponseWriter, *http.Request){cutBody, ok(`{"items":[{"id":"a"}]}`)},
			wantHits: 2,
			waits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 {
					t.Errorf("waits %v, want one", waits)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, srv := serve(t, tt.answers...)
			var s sleeps
			var out page
			_, err := GetJSON(context.Background(), ts.Client(), Retry{Sleep: s.sleep, MaxWait: time.Minute}, nil, ts.URL+"/v1/items", nil, &out)
			if err != nil {
				t.Fatalf("GetJSON: %v", err)
			}
			if hits := srv.hits.Load(); hits < tt.wantHits {
				t.Errorf("%d requests, want %d", hits, tt.wantHits)
			}
			tt.waits(t, s.got())
		})
	}
}

func TestGetJSONGivesUp(t *testing.T) {
	ts, srv := serve(t, status(503, nil, "  upstream\n  unavailable  "))
	var s sleeps
	var out page
	_, err := GetJSON(context.Background(), ts.Client(), Retry{Attempts: 3, Sleep: s.sleep}, nil, ts.URL, nil, &out)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("err = %v, want an APIError 503", err)
	}
	if srv.hits.Load() != 3 || len(s.got()) != 2 {
		t.Errorf("%d requests and %d waits, want 3 and 2", srv.hits.Load(), len(s.got()))
	}
	if want := "gave up after 3 attempts: HTTP 503 (upstream unavailable)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestGetJSONNetworkErrorGivesUp(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens there now
	var s sleeps
	_, err := GetJSON(context.Background(), http.DefaultClient, Retry{Attempts: 2, Sleep: s.sleep}, nil, url, nil, &page{})
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("err = %v", err)
	}
	if len(s.got()) != 1 {
		t.Errorf("waits %v, want one", s.got())
	}
}

func TestGetJSONAuthErrorsAreNotRetried(t *testing.T) {
	custom := func(status int, body []byte) string {
		if status == http.StatusForbidden && strings.Contains(string(body), "E0000006") {
			return "the API token's admin lacks the Read-only Administrator role"
		}
		return DefaultExplain(status, body)
	}
	tests := []struct {
		name    string
		code    int
		body    string
		explain Explain
		want    string
	}{
		{"401", 401, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`, nil, "HTTP 401: the credentials were refused: check that they are current ({\"errorCode\":\"E0000011\",\"errorSummary\":\"Invalid token provided\"})"},
		{"403 default", 403, `{"error":{"code":"Authorization_RequestDenied"}}`, nil, "HTTP 403: permission denied: the credentials lack a scope or role this import needs"},
		{"403 explained", 403, `{"errorCode":"E0000006"}`, custom, "HTTP 403: the API token's admin lacks the Read-only Administrator role"},
		{"404", 404, ``, nil, "HTTP 404: not found: check the organisation or tenant URL"},
		{"400 unexplained", 400, `bad since`, nil, "HTTP 400 (bad since)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, srv := serve(t, status(tt.code, nil, tt.body))
			var s sleeps
			header := http.Header{"Authorization": {"SSWS secret-token-value"}}
			_, err := GetJSON(context.Background(), ts.Client(), Retry{Sleep: s.sleep}, tt.explain, ts.URL+"/api/v1/logs?after=cursor", header, &page{})
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.code {
				t.Fatalf("err = %v, want APIError %d", err, tt.code)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q\nwant prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-token-value") {
				t.Errorf("the error shows the credentials: %v", err)
			}
			if srv.hits.Load() != 1 || len(s.got()) != 0 {
				t.Errorf("%d requests, %d waits: a %d was retried", srv.hits.Load(), len(s.got()), tt.code)
			}
		})
	}
}

func TestGetJSONSendsHeaders(t *testing.T) {
	var got http.Header
	ts, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, `{}`)
	})
	header := http.Header{"Authorization": {"SSWS t"}, "X-Custom": {"1"}}
	if _, err := GetJSON(context.Background(), ts.Client(), Retry{}, nil, ts.URL, header, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "SSWS t" || got.Get("X-Custom") != "1" || got.Get("Accept") != "application/json" {
		t.Errorf("headers sent: %v", got)
	}
}

func TestGetJSONBodyOverTheCap(t *testing.T) {
	ts, srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = ' '
		}
		for written := 0; written <= MaxResponseBytes; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	var s sleeps
	_, err := GetJSON(context.Background(), ts.Client(), Retry{Sleep: s.sleep}, nil, ts.URL, nil, &page{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("larger than %d bytes", MaxResponseBytes)) {
		t.Fatalf("err = %v, want a size error", err)
	}
	if srv.hits.Load() != 1 {
		t.Errorf("%d requests: an oversized answer was retried", srv.hits.Load())
	}
}

func TestGetJSONDecoding(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
		want    string // the ids read, comma-separated
	}{
		{"truncated", `{"items":[{"id":"a"},{"id":`, "decode", ""},
		{"empty", ``, "decode", ""},
		{"not json", `<html>proxy error</html>`, "decode", ""},
		{"duplicate keys: the last wins", `{"items":[{"id":"a","id":"b"}],"next":"x","next":""}`, "", "b"},
		{"unknown fields ignored", `{"items":[{"id":"a","extra":{"deep":[1,2]}}],"@odata.context":"x"}`, "", "a"},
		{"wrong type", `{"items":{"id":"a"}}`, "decode", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, srv := serve(t, ok(tt.body))
			var s sleeps
			var out page
			_, err := GetJSON(context.Background(), ts.Client(), Retry{Sleep: s.sleep}, nil, ts.URL+"/items?token=secret-cursor", nil, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-cursor") {
					t.Errorf("the error shows the query: %v", err)
				}
				if srv.hits.Load() != 1 {
					t.Errorf("a bad page was fetched %d times", srv.hits.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range out.Items {
				ids = append(ids, it.ID)
			}
			if got := strings.Join(ids, ","); got != tt.want {
				t.Errorf("ids %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDoCancelledWhileWaiting(t *testing.T) {
	ts, srv := serve(t, status(429, map[string]string{"Retry-After": "30"}, ""))
	ctx, cancel := context.WithCancel(context.Background())
	sleep := func(ctx context.Context, d time.Duration) error {
		cancel() // the run is stopped while it waits
		return ctx.Err()
	}
	_, err := GetJSON(ctx, ts.Client(), Retry{Sleep: sleep}, nil, ts.URL, nil, &page{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 {
		t.Errorf("err = %v, want it to keep the 429", err)
	}
	if srv.hits.Load() != 1 {
		t.Errorf("%d requests after cancel", srv.hits.Load())
	}
}

func TestDoFreshRequestPerAttempt(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	ts, _ := serve(t,
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			w.WriteHeader(500)
		},
		func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			io.WriteString(w, `{"access_token":"x"}`)
		})
	var s sleeps
	_, body, err := Do(context.Background(), ts.Client(), Retry{Sleep: s.sleep}, nil, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader("grant_type=client_credentials"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"access_token":"x"}` {
		t.Errorf("body %q", body)
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] || bodies[1] != "grant_type=client_credentials" {
		t.Errorf("request bodies %q: each attempt must send the whole body", bodies)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{"Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second},
		{"Wednesday, 25-Nov-26 12:01:00 GMT", time.Minute}, // RFC 850
		{"Wed Nov 25 12:00:10 2026", 10 * time.Second},     // asctime
		{"Wed, 25 Nov 2026 11:59:00 GMT", 0},               // past
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSnippetAndRedact(t *testing.T) {
	long := strings.Repeat("é", 400)
	s := snippet([]byte(long))
	if !strings.HasSuffix(s, "...") || len(s) > 303 || !utf8.ValidString(s) {
		t.Errorf("snippet of a long body: %d bytes", len(s))
	}
	if got := snippet([]byte("a\n\tb   c")); got != "a b c" {
		t.Errorf("snippet = %q", got)
	}
	if got := redactURL("https://x.okta.com/api/v1/logs?after=abc&token=t"); got != "https://x.okta.com/api/v1/logs" {
		t.Errorf("redactURL = %q", got)
	}
}
