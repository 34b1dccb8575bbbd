package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/signatures"
)

const (
	testEnrollSecret = "enroll-secret-0123456789"
	testAdminToken   = "admin-token-0123456789"
)

// unknownDomainsServer is a real server on a real SQLite store, its
// clock at now.
func unknownDomainsServer(t *testing.T, now time.Time) *httptest.Server {
	t.Helper()
	catalog, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	store := openTestStore(t, now)
	clock := func() time.Time { return now }
	srv := New(Options{
		Catalog:       catalog,
		Stores:        store,
		Inventory:     inventory.New(catalog, store, store, inventory.Options{Clock: clock}),
		EnrollSecrets: []Secret{{Name: "mdm", Value: testEnrollSecret}},
		AdminTokens:   []Secret{{Name: "it", Value: testAdminToken}},
		DeviceBurst:   100,
		Clock:         clock,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func enrollDevice(t *testing.T, ts *httptest.Server, host string) string {
	t.Helper()
	code, body := call(t, http.MethodPost, ts.URL+api.PathEnroll, "", api.EnrollRequest{
		EnrollSecret: testEnrollSecret, Hostname: host, OS: api.OSLinux, AgentVersion: "1.0.0", User: "user-of-" + host,
	})
	if code != http.StatusCreated {
		t.Fatalf("enroll %s: %d %s", host, code, body)
	}
	var er api.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	return er.DeviceToken
}

func TestUnknownDomainsEndToEnd(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ts := unknownDomainsServer(t, now)
	today, lastMonth := "2026-11-25", "2026-10-22"
	ud := func(domain, day string) api.UnknownDomain {
		return api.UnknownDomain{Domain: domain, Day: day, Count: 2}
	}
	// Five devices. tinyshop.com: four devices; rarely.net: two (below
	// k=3); slack.com (an app an old catalog did not know): three;
	// oldtool.io: three, but two of them five weeks ago.
	reports := [][]api.UnknownDomain{
		{ud("tinyshop.com", today), ud("rarely.net", today), ud("slack.com", today), ud("oldtool.io", today)},
		{ud("tinyshop.com", today), ud("rarely.net", today), ud("slack.com", today), ud("oldtool.io", lastMonth)},
		{ud("tinyshop.com", today), ud("slack.com", today), ud("oldtool.io", lastMonth)},
		{ud("tinyshop.com", "2026-11-24")},
		{},
	}
	tokens := make([]string, len(reports))
	for i, rep := range reports {
		tokens[i] = enrollDevice(t, ts, fmt.Sprintf("host-%d", i))
		if len(rep) == 0 {
			continue
		}
		b := api.SightingsBatch{BatchID: "b-1", AgentVersion: "1.0.0", Sightings: []api.Sighting{}, UnknownDomains: rep}
		for range 2 { // the second is a replay
			code, body := call(t, http.MethodPost, ts.URL+api.PathSightings, tokens[i], b)
			if code != http.StatusOK {
				t.Fatalf("device %d: sightings: %d %s", i, code, body)
			}
		}
	}

	get := func(query string) (int, string) {
		code, body := call(t, http.MethodGet, ts.URL+"/api/v1/unknown-domains"+query, testAdminToken, nil)
		return code, string(body)
	}
	tests := []struct {
		query string
		code  int
		want  string
	}{
		{"", 200, `{"days":30,"since":"2026-10-27","domains":[{"domain":"tinyshop.com","devices":4}]}`},
		{"?days=1", 200, `{"days":1,"since":"2026-11-25","domains":[{"domain":"tinyshop.com","devices":3}]}`},
		{"?days=40", 200, `{"days":40,"since":"2026-10-17","domains":[{"domain":"tinyshop.com","devices":4},{"domain":"oldtool.io","devices":3}]}`},
		{"?days=0", 400, ""},
		{"?days=401", 400, ""},
		{"?days=x", 400, ""},
	}
	for _, tt := range tests {
		code, body := get(tt.query)
		if code != tt.code || (tt.want != "" && strings.TrimSpace(body) != tt.want) {
			t.Errorf("GET %q = %d %s\nwant %d %s", tt.query, code, body, tt.code, tt.want)
		}
		for _, secret := range []string{"host-", "user-of", "dev_"} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %q names a device or user: %s", tt.query, body)
			}
		}
	}
	if code, _ := call(t, http.MethodGet, ts.URL+"/api/v1/unknown-domains", "", nil); code != http.StatusUnauthorized {
		t.Errorf("without an admin token: %d", code)
	}
	if code, _ := call(t, http.MethodGet, ts.URL+"/api/v1/unknown-domains", tokens[0], nil); code != http.StatusUnauthorized {
		t.Errorf("with a device token: %d", code)
	}
}

func TestUnknownDomainsIngestRefusesBadDomains(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ts := unknownDomainsServer(t, now)
	token := enrollDevice(t, ts, "host-1")
	for _, domain := range []string{"www.tinyshop.com", "printer.local", "10.1.2.3", "TinyShop.com"} {
		b := api.SightingsBatch{BatchID: "b-" + domain, AgentVersion: "1", Sightings: []api.Sighting{},
			UnknownDomains: []api.UnknownDomain{{Domain: domain, Day: "2026-11-25", Count: 1}}}
		code, body := call(t, http.MethodPost, ts.URL+api.PathSightings, token, b)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "unknown_domains[0].domain") {
			t.Errorf("%s: %d %s", domain, code, body)
		}
	}
}
