package service

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
)

const (
	enrollSecret  = "enroll-secret-0123456789abcdef"
	revokedSecret = "revoked-secret-0123456789abcdef"
	adminToken    = "admin-token-0123456789abcdef-xyz"
)

// testCollector is a real collector on a loopback port with a SQLite file
// in a temp dir.
type testCollector struct {
	URL  string
	Coll *Collector
	stop func()
}

func writeConfig(t *testing.T, dir string, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "shadowmap.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
database: %s
enroll_secrets:
  - name: laptops
    secret: %s
  - name: old
    secret: %s
    revoked: true
admin_tokens:
  - name: it-admin
    token: %s
email_domain: example.com
%s`, filepath.Join(dir, "data", "shadowmap.db"), enrollSecret, revokedSecret, adminToken, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startCollector(t *testing.T, cfgPath string) *testCollector {
	t.Helper()
	cfg, err := config.Load(cfgPath, nil, nil)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	tc := &testCollector{URL: "http://" + ln.Addr().String(), Coll: c}
	var once bool
	tc.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		c.Close()
	}
	t.Cleanup(tc.stop)
	return tc
}

// call makes a raw request and decodes a JSON answer into out (if not nil).
func call(t *testing.T, method, url, token string, hdr map[string]string, body []byte, out any) *http.Response {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if _, ok := hdr["X-Test-Chunked"]; ok {
		rd = io.MultiReader(rd) // hides the length: sent chunked
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

func sighting(app, domain, tenant, user string, now time.Time, count int64) api.Sighting {
	return api.Sighting{
		App: app, Domain: domain, Tenant: tenant, Source: "dns", User: user,
		Day: now.UTC().Format(time.DateOnly), Count: count,
		FirstSeen: now.Add(-time.Hour).UTC(), LastSeen: now.UTC(),
	}
}

func gzipJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

type appsPage struct {
	Apps []struct {
		ID      string   `json:"id"`
		People  int      `json:"people"`
		Devices int      `json:"devices"`
		Tenants []string `json:"tenants"`
		Status  string   `json:"status"`
		Flags   []struct {
			Flag string `json:"flag"`
		} `json:"flags"`
		Evidence map[string]int64 `json:"evidence"`
	} `json:"apps"`
	Total int `json:"total"`
}

// TestEndToEnd goes through what an agent and an IT admin do: enroll,
// upload sightings (and replay them), read the inventory, decide about an
// app, export CSV; and every bad input on the way.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	tc := startCollector(t, writeConfig(t, dir, "ingest:\n  rate_limit: 1000\n  burst: 1000\n"))
	ctx := context.Background()
	now := time.Now().UTC()
	client := api.NewClient(tc.URL, nil)

	// Enroll: a wrong secret is 401, a revoked one 403.
	enroll := api.EnrollRequest{Hostname: "ann-mbp", OS: "darwin", AgentVersion: "0.1.0", User: "ann"}
	for secret, want := range map[string]int{"nope-nope-nope-nope": 401, revokedSecret: 403} {
		e := enroll
		e.EnrollSecret = secret
		_, err := client.Enroll(ctx, e)
		var he *api.HTTPError
		if !errors.As(err, &he) || he.Status != want {
			t.Errorf("enroll with %q: err %v, want HTTP %d", secret, err, want)
		}
	}
	enroll.EnrollSecret = enrollSecret
	ann, err := client.Enroll(ctx, enroll)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if len(ann.DeviceToken) < 43 || !strings.HasPrefix(ann.DeviceID, "dev_") {
		t.Fatalf("enroll response %+v", ann)
	}
	agent := client.WithToken(ann.DeviceToken)

	// Sightings, then the same batch again.
	batch := api.SightingsBatch{BatchID: "b-0001", AgentVersion: "0.1.0", Sightings: []api.Sighting{
		sighting("slack", "slack.com", "acme", "ann", now, 40),
		sighting("slack", "slack.com", "acme-eu", "ann", now, 3),
		sighting("notion", "notion.so", "", "ann", now, 12),
		sighting("chatgpt", "chatgpt.com", "", "ann", now, 7),
	}}
	resp, err := agent.SendSightings(ctx, batch)
	if err != nil || resp.Accepted != 4 || resp.Duplicate {
		t.Fatalf("send: %+v, %v", resp, err)
	}
	resp, err = agent.SendSightings(ctx, batch)
	if err != nil || !resp.Duplicate {
		t.Fatalf("replay: %+v, %v; want duplicate", resp, err)
	}
	if err := agent.Heartbeat(ctx, api.Heartbeat{AgentVersion: "0.1.0", CaptureState: "running", PacketsSeen: 1000}); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}

	// Every bad input gets a clear 4xx and stores nothing.
	sightingsURL := tc.URL + api.PathSightings
	good := func(id string, s ...api.Sighting) api.SightingsBatch {
		return api.SightingsBatch{BatchID: id, AgentVersion: "0.1.0", Sightings: s}
	}
	tooBig := bytes.Repeat([]byte("x"), api.MaxCompressedBytes+10)
	bomb := func() []byte { // small on the wire, huge unpacked
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write([]byte(`{"batch_id":"bomb","agent_version":"1","sightings":[{"app":"`))
		zw.Write(bytes.Repeat([]byte("a"), api.MaxBatchBytes+10))
		zw.Close()
		return buf.Bytes()
	}()
	bad := []struct {
		name    string
		token   string
		gzip    bool
		body    []byte
		code    int
		chunked bool
	}{
		{"no token", "", true, gzipJSON(t, good("b-x", sighting("slack", "slack.com", "", "", now, 1))), 401, false},
		{"unknown token", "not-a-token", true, gzipJSON(t, good("b-x", sighting("slack", "slack.com", "", "", now, 1))), 401, false},
		{"malformed JSON", ann.DeviceToken, false, []byte(`{"batch_id": "b-2", "sightings": [`), 400, false},
		{"not gzip although it says so", ann.DeviceToken, true, []byte(`{"batch_id":"b-2"}`), 400, false},
		{"wrong types", ann.DeviceToken, false, []byte(`{"batch_id": 7, "agent_version": "1", "sightings": "many"}`), 400, false},
		{"unknown field", ann.DeviceToken, false, []byte(`{"batch_id":"b-2","agent_version":"1","sightings":[],"url":"https://x"}`), 400, false},
		{"no sightings", ann.DeviceToken, true, gzipJSON(t, good("b-2")), 400, false},
		{"unknown app among good ones", ann.DeviceToken, true, gzipJSON(t, good("b-3", sighting("notion", "notion.so", "", "ann", now, 5), sighting("no-such-app", "example.com", "", "", now, 1))), 400, false},
		{"far future", ann.DeviceToken, true, gzipJSON(t, good("b-4", sighting("notion", "notion.so", "", "", now.Add(72*time.Hour), 1))), 400, false},
		{"far past", ann.DeviceToken, true, gzipJSON(t, good("b-5", sighting("notion", "notion.so", "", "", now.Add(-400*24*time.Hour), 1))), 400, false},
		{"negative count", ann.DeviceToken, true, gzipJSON(t, good("b-6", sighting("notion", "notion.so", "", "", now, -5))), 400, false},
		{"oversized body", ann.DeviceToken, false, tooBig, 413, false},
		{"oversized body, streamed", ann.DeviceToken, false, append([]byte(`{"batch_id":"b-7","agent_version":"1","sightings":[{"app":"`), tooBig...), 413, true},
		{"gzip bomb", ann.DeviceToken, true, bomb, 413, false},
	}
	for _, tt := range bad {
		hdr := map[string]string{"Content-Type": "application/json"}
		if tt.gzip {
			hdr["Content-Encoding"] = "gzip"
		}
		if tt.chunked {
			hdr["X-Test-Chunked"] = "1"
		}
		var e api.Error
		r := call(t, "POST", sightingsURL, tt.token, hdr, tt.body, &e)
		if r.StatusCode != tt.code || e.Error == "" || e.Code == "" {
			t.Errorf("%s: HTTP %d %+v, want %d with a JSON error", tt.name, r.StatusCode, e, tt.code)
		}
	}

	// The inventory: slack with one person (ann@example.com from the OS
	// user and the email domain), two tenants, outside the IdP.
	var page appsPage
	if r := call(t, "GET", tc.URL+"/api/v1/apps?sort=name", adminToken, nil, nil, &page); r.StatusCode != 200 {
		t.Fatalf("apps: HTTP %d", r.StatusCode)
	}
	byID := map[string]int{}
	for i, a := range page.Apps {
		byID[a.ID] = i
	}
	if page.Total != 3 || len(page.Apps) != 3 {
		t.Fatalf("apps = %+v, want slack, notion, chatgpt", page)
	}
	slack := page.Apps[byID["slack"]]
	if slack.People != 1 || slack.Devices != 1 || strings.Join(slack.Tenants, ",") != "acme,acme-eu" || slack.Status != "unreviewed" {
		t.Errorf("slack row %+v", slack)
	}
	flags := map[string]bool{}
	for _, f := range slack.Flags {
		flags[f.Flag] = true
	}
	for _, f := range []string{"outside_idp", "sso_available_not_used", "new_this_week", "multiple_tenants"} {
		if !flags[f] {
			t.Errorf("slack lacks flag %s: %+v", f, slack.Flags)
		}
	}
	if n := page.Apps[byID["notion"]].Evidence["dns"]; n != 12 {
		t.Errorf("notion dns count = %d, want 12 (the rejected batch stored nothing)", n)
	}

	// Filters and bad queries.
	var filtered appsPage
	call(t, "GET", tc.URL+"/api/v1/apps?flag=multiple_tenants", adminToken, nil, nil, &filtered)
	if filtered.Total != 1 || filtered.Apps[0].ID != "slack" {
		t.Errorf("flag filter: %+v", filtered)
	}
	for _, q := range []string{"status=maybe", "flag=nope", "sort=size", "page=-1", "limit=abc"} {
		if r := call(t, "GET", tc.URL+"/api/v1/apps?"+q, adminToken, nil, nil, nil); r.StatusCode != 400 {
			t.Errorf("apps?%s: HTTP %d, want 400", q, r.StatusCode)
		}
	}

	// App detail with its evidence.
	var detail struct {
		ID       string `json:"id"`
		Evidence []struct {
			Source string `json:"source"`
			Person string `json:"person"`
			Device string `json:"device"`
			Tenant string `json:"tenant"`
			Count  int64  `json:"count"`
		} `json:"evidence"`
	}
	call(t, "GET", tc.URL+"/api/v1/apps/slack", adminToken, nil, nil, &detail)
	if len(detail.Evidence) != 2 || detail.Evidence[0].Person != "ann@example.com" || detail.Evidence[0].Device != ann.DeviceID {
		t.Errorf("slack evidence %+v", detail.Evidence)
	}
	if r := call(t, "GET", tc.URL+"/api/v1/apps/no-such-app", adminToken, nil, nil, nil); r.StatusCode != 404 {
		t.Errorf("unknown app: HTTP %d", r.StatusCode)
	}

	// Status change, with its history, and bad ones.
	var patched struct {
		Status   string `json:"status"`
		StatusBy string `json:"status_by"`
		History  []struct {
			From string `json:"From"`
			To   string `json:"To"`
		} `json:"history"`
	}
	r := call(t, "PATCH", tc.URL+"/api/v1/apps/slack", adminToken, nil, []byte(`{"status":"approved","why":"company chat"}`), &patched)
	if r.StatusCode != 200 || patched.Status != "approved" || patched.StatusBy != "it-admin" || len(patched.History) != 1 {
		t.Errorf("patch: HTTP %d %+v", r.StatusCode, patched)
	}
	for body, code := range map[string]int{
		`{"status":"maybe"}`:            400,
		`{"status":"approved","x":1}`:   400,
		`{}`:                            400,
		`not json`:                      400,
		`{"inside_idp":"ldap"}`:         400,
		`{"status":"approved"} {"a":1}`: 400,
	} {
		if r := call(t, "PATCH", tc.URL+"/api/v1/apps/slack", adminToken, nil, []byte(body), nil); r.StatusCode != code {
			t.Errorf("patch %s: HTTP %d, want %d", body, r.StatusCode, code)
		}
	}
	if r := call(t, "PATCH", tc.URL+"/api/v1/apps/no-such-app", adminToken, nil, []byte(`{"status":"approved"}`), nil); r.StatusCode != 404 {
		t.Errorf("patch unknown app: HTTP %d", r.StatusCode)
	}

	// Admin auth.
	if r := call(t, "GET", tc.URL+"/api/v1/apps", "", nil, nil, nil); r.StatusCode != 401 {
		t.Errorf("apps without a token: HTTP %d", r.StatusCode)
	}
	if r := call(t, "GET", tc.URL+"/api/v1/apps", ann.DeviceToken, nil, nil, nil); r.StatusCode != 401 {
		t.Errorf("apps with a device token: HTTP %d", r.StatusCode)
	}

	// CSV export.
	r = call(t, "GET", tc.URL+"/api/v1/export/apps.csv", adminToken, nil, nil, nil)
	recs, err := csv.NewReader(r.Body).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "id" {
		t.Fatalf("csv: %v %q", err, recs)
	}
	var slackCSV []string
	for _, rec := range recs {
		if rec[0] == "slack" {
			slackCSV = rec
		}
	}
	if slackCSV == nil || slackCSV[4] != "approved" {
		t.Errorf("csv slack row %q", slackCSV)
	}

	// People and devices.
	var people struct {
		People []struct {
			Email string `json:"email"`
		} `json:"people"`
	}
	call(t, "GET", tc.URL+"/api/v1/people", adminToken, nil, nil, &people)
	if len(people.People) != 1 || people.People[0].Email != "ann@example.com" {
		t.Errorf("people %+v", people)
	}
	var devices struct {
		Devices []struct {
			ID     string `json:"id"`
			Health struct {
				CaptureState string `json:"capture_state"`
			} `json:"health"`
		} `json:"devices"`
	}
	call(t, "GET", tc.URL+"/api/v1/devices", adminToken, nil, nil, &devices)
	if len(devices.Devices) != 1 || devices.Devices[0].Health.CaptureState != "running" {
		t.Errorf("devices %+v", devices)
	}

	// The catalog bundle with its ETag.
	bundle, etag, notModified, err := agent.Catalog(ctx, "")
	if err != nil || len(bundle) == 0 || etag == "" || notModified {
		t.Fatalf("catalog: %d bytes, etag %q, %v", len(bundle), etag, err)
	}
	if _, _, notModified, err := agent.Catalog(ctx, etag); err != nil || !notModified {
		t.Errorf("catalog with If-None-Match: notModified %v, %v", notModified, err)
	}

	// A revoked device is refused.
	if err := tc.Coll.Store().RevokeDevice(ctx, ann.DeviceID); err != nil {
		t.Fatal(err)
	}
	_, err = agent.SendSightings(ctx, good("b-9", sighting("slack", "slack.com", "", "", now, 1)))
	var he *api.HTTPError
	if !errors.As(err, &he) || he.Status != 403 {
		t.Errorf("revoked device: %v, want 403", err)
	}

	// Still serving.
	if r := call(t, "GET", tc.URL+"/healthz", "", nil, nil, nil); r.StatusCode != 200 {
		t.Errorf("healthz: %d", r.StatusCode)
	}
	if r := call(t, "GET", tc.URL+"/readyz", "", nil, nil, nil); r.StatusCode != 200 {
		t.Errorf("readyz: %d", r.StatusCode)
	}
	if r := call(t, "GET", tc.URL+"/metrics", "", nil, nil, nil); r.StatusCode != 200 {
		t.Errorf("metrics: %d", r.StatusCode)
	} else if body, _ := io.ReadAll(r.Body); !bytes.Contains(body, []byte(`shadowmap_ingest_batches_total{result="duplicate"} 1`)) {
		t.Errorf("metrics lack the duplicate batch:\n%s", body)
	}
}

func TestRateLimit(t *testing.T) {
	tc := startCollector(t, writeConfig(t, t.TempDir(), "ingest:\n  rate_limit: 0.5\n  burst: 2\n"))
	ctx := context.Background()
	client := api.NewClient(tc.URL, nil)
	enr, err := client.Enroll(ctx, api.EnrollRequest{EnrollSecret: enrollSecret, Hostname: "h", OS: "linux", AgentVersion: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	agent := client.WithToken(enr.DeviceToken)
	now := time.Now()
	var limited *api.HTTPError
	for i := range 5 {
		_, err := agent.SendSightings(ctx, api.SightingsBatch{BatchID: fmt.Sprintf("r-%d", i), AgentVersion: "0.1.0",
			Sightings: []api.Sighting{sighting("slack", "slack.com", "", "", now, 1)}})
		if errors.As(err, &limited) {
			break
		}
	}
	if limited == nil || limited.Status != 429 || limited.RetryAfter <= 0 {
		t.Fatalf("no 429 with Retry-After after a burst: %+v", limited)
	}
}

// TestServeWithNoConfiguration: no file, no variables, no flags: the
// collector starts on SQLite in the data directory with a generated enroll
// secret and admin token, kept across restarts.
func TestServeWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, name := range []string{"data/shadowmap.db", "data/enroll-secret", "data/admin-token"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
	first, _ := os.ReadFile(filepath.Join(dir, "data/admin-token"))
	c, err = New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	second, _ := os.ReadFile(filepath.Join(dir, "data/admin-token"))
	if string(first) != string(second) || len(first) < 40 {
		t.Errorf("the generated admin token changed across restarts or is short: %q vs %q", first, second)
	}
}
