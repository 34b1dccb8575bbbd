package okta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

const testToken = "00aBcDeFgHiJkLmNoPqRsTuVwXyZ-secret-token"

// fakeOkta is an httptest server that answers /api/v1/logs and
// /api/v1/apps as Okta does: SSWS auth, the since/until window and the
// filter applied, ascending order, limit, an opaque after cursor in Link
// headers, and X-Rate-Limit-* headers.
type fakeOkta struct {
	t      *testing.T
	srv    *httptest.Server
	now    time.Time
	events []json.RawMessage
	apps   []json.RawMessage

	mu sync.Mutex
	// hook, when set, may answer a request itself (errors, truncation);
	// n counts requests to the path so far, from 1.
	hook      func(w http.ResponseWriter, r *http.Request, n int) bool
	calls     map[string]int
	queries   []url.Values // of /api/v1/logs
	remaining int          // X-Rate-Limit-Remaining answered; -1: no headers
}

func newFakeOkta(t *testing.T, now time.Time) *fakeOkta {
	t.Helper()
	f := &fakeOkta{t: t, now: now, calls: map[string]int{}, remaining: 100}
	f.events = readArray(t, "testdata/system_log.json")
	f.apps = readArray(t, "testdata/apps.json")
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func readArray(t testing.TB, path string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func (f *fakeOkta) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func (f *fakeOkta) logQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.queries...)
}

func (f *fakeOkta) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.URL.Path]++
	n := f.calls[r.URL.Path]
	hook := f.hook
	if r.URL.Path == "/api/v1/logs" {
		f.queries = append(f.queries, r.URL.Query())
	}
	remaining := f.remaining
	f.mu.Unlock()

	w.Header().Set("Date", f.now.Format(http.TimeFormat))
	if remaining >= 0 {
		w.Header().Set("X-Rate-Limit-Limit", "120")
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(f.now.Add(30*time.Second).Unix(), 10))
	}
	if hook != nil && hook(w, r, n) {
		return
	}
	if r.Header.Get("Authorization") != "SSWS "+testToken {
		oktaError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	switch r.URL.Path {
	case "/api/v1/logs":
		f.serveLogs(w, r)
	case "/api/v1/apps":
		f.servePage(w, r, f.apps, 200, func(raw json.RawMessage) string { return field(raw, "id") })
	default:
		oktaError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}

func oktaError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errorCode":%q,"errorSummary":%q,"errorLink":%q,"errorId":"oae8Xq3w0rOTk6b2gNdxRkR4A","errorCauses":[]}`, code, summary, code)
}

func field(raw json.RawMessage, name string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	s, _ := m[name].(string)
	return s
}

func (f *fakeOkta) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("filter") != `eventType eq "user.authentication.sso" or eventType sw "app.oauth2"` || q.Get("sortOrder") != "ASCENDING" {
		oktaError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
		return
	}
	since, err1 := time.Parse(time.RFC3339Nano, q.Get("since"))
	until, err2 := time.Parse(time.RFC3339Nano, q.Get("until"))
	if err1 != nil || err2 != nil {
		oktaError(w, http.StatusBadRequest, "E0000001", "Api validation failed: since/until")
		return
	}
	type item struct {
		raw json.RawMessage
		at  time.Time
		id  string
	}
	var items []item
	for _, raw := range f.events {
		var e struct {
			UUID, Published, EventType string
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			f.t.Errorf("fixture: %v", err)
			continue
		}
		at, _ := time.Parse(time.RFC3339Nano, e.Published)
		matches := e.EventType == "user.authentication.sso" || len(e.EventType) > 10 && e.EventType[:10] == "app.oauth2"
		if matches && !at.Before(since) && at.Before(until) {
			items = append(items, item{raw, at, e.UUID})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	raws := make([]json.RawMessage, len(items))
	for i, it := range items {
		raws[i] = it.raw
	}
	f.servePage(w, r, raws, 1000, func(raw json.RawMessage) string { return field(raw, "uuid") })
}

// servePage answers one page of list after the "after" cursor, with Link
// headers as Okta sends them: self always, next while a full page was
// given (so the last full page is followed by an empty one).
func (f *fakeOkta) servePage(w http.ResponseWriter, r *http.Request, list []json.RawMessage, maxLimit int, key func(json.RawMessage) string) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > maxLimit {
		limit = maxLimit
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(list)
		for i, raw := range list {
			if key(raw) == after {
				start = i + 1
				break
			}
		}
	}
	page := list[start:min(start+limit, len(list))]
	self := *r.URL
	self.Scheme, self.Host = "http", r.Host
	w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="self"`, self.String()))
	if len(page) == limit {
		nq := r.URL.Query()
		nq.Set("after", key(page[len(page)-1]))
		next := self
		next.RawQuery = nq.Encode()
		w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
	}
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(page)
	_, _ = w.Write(b)
}
