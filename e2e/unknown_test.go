package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/agent"
	"github.com/shadowmap/shadowmap/agent/aggregate"
)

// TestUnknownDomainTelemetry runs three agents with the opt-in telemetry
// on: a vendor all three look up shows in the collector's unknown-domain
// list with its device count; one that only two looked up stays hidden
// (the k=3 privacy threshold); the full names never reach the collector.
func TestUnknownDomainTelemetry(t *testing.T) {
	url := startCollector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running []chan error
	for i := range 3 {
		a, err := agent.New(agent.Config{
			CollectorURL: url, EnrollSecret: enrollSecret, StateDir: t.TempDir(), FlushInterval: 300 * time.Millisecond,
			User: fmt.Sprintf("user%d", i), Hostname: fmt.Sprintf("laptop-%d", i), OS: "linux", Version: "e2e",
			Logger: slog.New(slog.DiscardHandler), UnknownDomains: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		names := []string{"eu-west.app.vendorthree.io", "acme.slack.com"}
		if i < 2 {
			names = append(names, "portal.vendortwo.dev")
		}
		done := make(chan error, 1)
		running = append(running, done)
		go func() {
			done <- a.Run(ctx, func(ctx context.Context, emit func(agent.Name)) error {
				for _, n := range names {
					emit(agent.Name{Name: n, Source: aggregate.SourceDNS, Time: time.Now()})
				}
				<-ctx.Done()
				return nil
			})
		}()
	}
	type domain struct {
		Domain  string `json:"domain"`
		Devices int    `json:"devices"`
	}
	var got []domain
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp := adminGet(t, url, "/api/v1/unknown-domains")
		var page struct {
			Domains []domain `json:"domains"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		got = page.Domains
		if len(got) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	for _, done := range running {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0] != (domain{"vendorthree.io", 3}) {
		t.Fatalf("unknown domains shown: %+v, want only vendorthree.io on 3 devices", got)
	}
}
