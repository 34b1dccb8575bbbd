package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent"
	"github.com/shadowmap/shadowmap/agent/aggregate"
	"github.com/shadowmap/shadowmap/collector/config"
	"github.com/shadowmap/shadowmap/collector/service"
)

const (
	enrollSecret = "e2e-enroll-secret-0123456789"
	adminToken   = "e2e-admin-token-0123456789abcdef"
)

func startCollector(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load("", []string{
		"SHADOWMAP_DATABASE=" + filepath.Join(t.TempDir(), "c.db"),
		"SHADOWMAP_ENROLL_SECRET=" + enrollSecret,
		"SHADOWMAP_ADMIN_TOKEN=" + adminToken,
		"SHADOWMAP_EMAIL_DOMAIN=example.com",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, cfg)
}

// serve runs a real collector with cfg on a loopback port until the test
// ends, and returns its base URL.
func serve(t *testing.T, cfg config.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := service.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		c.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	return "http://" + ln.Addr().String()
}

// serveConfigFile serves the collector a configuration file describes,
// with its importers off: the tests run them with `shadowmap import`.
func serveConfigFile(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources = config.Default().Sources
	return serve(t, cfg)
}

// adminGet sends GET url+path with the admin token. The caller reads the
// response and closes its body.
func adminGet(t *testing.T, url, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestAgentToCollector runs the agent's loop (matching, aggregation,
// spool, upload) on names from a test source and reads the result from
// the collector's inventory.
func TestAgentToCollector(t *testing.T) {
	url := startCollector(t)
	// The agent talks to the collector through a proxy that counts the
	// catalog downloads: an agent whose embedded catalog is the
	// collector's must never download it (a 304 each time).
	catalogDownloads, catalogChecks := countCatalogFetches(t, &url)
	stateDir := t.TempDir()
	a, err := agent.New(agent.Config{
		CollectorURL: url, EnrollSecret: enrollSecret, StateDir: stateDir,
		FlushInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), User: "ann", Hostname: "ann-laptop", OS: "linux", Version: "e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := func(ctx context.Context, emit func(agent.Name)) error {
		a.ReportSource(agent.SourceHealth{State: "running", Packets: 42, Drops: 1, Interfaces: []string{"test0"}})
		now := time.Now()
		for _, n := range []string{"acme.slack.com", "acme.slack.com", "www.notion.so", "d1.cloudfront.net", "intranet.corp.example"} {
			emit(agent.Name{Name: n, Source: aggregate.SourceDNS, Time: now})
		}
		<-ctx.Done()
		return nil
	}
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx, src) }()

	type row struct {
		ID      string   `json:"id"`
		People  int      `json:"people"`
		Tenants []string `json:"tenants"`
	}
	var apps []row
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp := adminGet(t, url, "/api/v1/apps?sort=name")
		var page struct {
			Apps []row `json:"apps"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if len(page.Apps) == 2 {
			apps = page.Apps
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The heartbeat reaches the collector too.
	healthy := false
	for time.Now().Before(deadline) && !healthy {
		resp := adminGet(t, url, "/api/v1/devices")
		var devices struct {
			Devices []struct {
				Health struct {
					CaptureState string   `json:"capture_state"`
					AgentVersion string   `json:"agent_version"`
					PacketsSeen  uint64   `json:"packets_seen"`
					Interfaces   []string `json:"interfaces"`
				} `json:"health"`
			} `json:"devices"`
		}
		json.NewDecoder(resp.Body).Decode(&devices)
		resp.Body.Close()
		healthy = len(devices.Devices) == 1 && devices.Devices[0].Health.CaptureState == "running" && devices.Devices[0].Health.AgentVersion == "e2e" && devices.Devices[0].Health.PacketsSeen == 42 &&
			slices.Equal(devices.Devices[0].Health.Interfaces, []string{"test0"})
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("agent run: %v", err)
	}
	if !healthy {
		t.Error("no heartbeat from the agent reached the collector")
	}
	if len(apps) != 2 || apps[0].ID != "notion" || apps[1].ID != "slack" || apps[1].People != 1 || len(apps[1].Tenants) != 1 {
		t.Fatalf("inventory after the agent's upload: %+v", apps)
	}
	st, err := agent.ReadStatus(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.AppsToday) != 2 || st.Matching.Names != 5 || st.Matching.Matched != 3 || st.Capture.Packets != 42 {
		t.Errorf("status %+v", st)
	}
	if catalogChecks.Load() == 0 {
		t.Error("the agent never checked for a newer catalog")
	}
	if n := catalogDownloads.Load(); n != 0 {
		t.Errorf("the agent downloaded the catalog it already embeds %d times", n)
	}
}

// countCatalogFetches puts a counting reverse proxy in front of *url and
// points *url at it. It counts catalog requests, and those answered with
// a whole catalog rather than 304 Not Modified.
func countCatalogFetches(t *testing.T, url *string) (downloads, checks *atomic.Int64) {
	t.Helper()
	target, err := neturl.Parse(*url)
	if err != nil {
		t.Fatal(err)
	}
	downloads, checks = new(atomic.Int64), new(atomic.Int64)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/catalog") {
			checks.Add(1)
			if resp.StatusCode == http.StatusOK {
				downloads.Add(1)
			}
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	*url = srv.URL
	return downloads, checks
}
