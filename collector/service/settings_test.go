package service

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/api"
	"github.com/shadowmap/shadowmap/collector/config"
)

// TestPurgeUsesRetentionOverride: the purge keeps the configuration's
// retention until the web view sets one, then uses that; an invalid
// stored override falls back to the configuration.
func TestPurgeUsesRetentionOverride(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load(writeConfig(t, t.TempDir(), "retention:\n  evidence: 90d\n  aggregates: 13mo\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	check := func(what string, wantEvidence, wantAggregates time.Time) {
		t.Helper()
		got, err := c.retention(ctx, now)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !got.Evidence.Equal(wantEvidence) || !got.Aggregates.Equal(wantAggregates) {
			t.Errorf("%s: evidence cutoff %v, aggregates %v; want %v, %v", what, got.Evidence, got.Aggregates, wantEvidence, wantAggregates)
		}
	}
	check("configuration", now.AddDate(0, 0, -90), now.AddDate(0, -13, 0))
	set := func(o collector.RetentionOverride) {
		t.Helper()
		if err := c.Store().SetRetentionOverride(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	set(collector.RetentionOverride{Evidence: "30d"})
	check("evidence override", now.AddDate(0, 0, -30), now.AddDate(0, -13, 0))
	set(collector.RetentionOverride{Evidence: "2w", Aggregates: "2y"})
	check("both overridden", now.AddDate(0, 0, -14), now.AddDate(-2, 0, 0))
	set(collector.RetentionOverride{Evidence: "1y", Aggregates: "30d"})
	check("invalid override (aggregates shorter)", now.AddDate(0, 0, -90), now.AddDate(0, -13, 0))

	// The purge itself: a row last seen 40 days ago survives the
	// configuration's 90 days and goes with a 30-day override.
	set(collector.RetentionOverride{})
	seen := time.Now().UTC().AddDate(0, 0, -40)
	if _, err := c.Store().AddEvidence(ctx, []collector.Evidence{{AppID: "slack", Source: collector.SourceInvoice, Person: "ann@example.com",
		Day: seen.Format(time.DateOnly), FirstSeen: seen, LastSeen: seen, Count: 1, DedupeKey: "old-invoice"}}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		ev, err := c.Store().ListEvidence(ctx, collector.EvidenceFilter{AppID: "slack"})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	c.purge(ctx)
	if n := count(); n != 1 {
		t.Fatalf("after a purge with the configuration's 90d: %d rows, want 1", n)
	}
	set(collector.RetentionOverride{Evidence: "30d"})
	c.purge(ctx)
	if n := count(); n != 0 {
		t.Errorf("after a purge with a 30d override: %d rows, want 0", n)
	}
}

// TestEnrollWithStoredSecret: a secret made in the web view (stored as its
// SHA-256) enrolls through the running collector beside the configuration's;
// once revoked, new enrollments get 403 and its devices are refused.
func TestEnrollWithStoredSecret(t *testing.T) {
	tc := startCollector(t, writeConfig(t, t.TempDir(), ""))
	defer tc.stop()
	ctx := context.Background()
	const value = "web-made-secret-value-0123456789abcdef"
	h := sha256.Sum256([]byte(value))
	if err := tc.Coll.Store().CreateEnrollSecret(ctx, collector.EnrollSecret{Name: "web-laptops", Hash: h[:], CreatedBy: "it@example.com"}); err != nil {
		t.Fatal(err)
	}
	enroll := func(secret string) (int, api.EnrollResponse) {
		t.Helper()
		body, _ := json.Marshal(api.EnrollRequest{EnrollSecret: secret, Hostname: "mbp-1", OS: "darwin", AgentVersion: "1.0.0"})
		resp := call(t, "POST", tc.URL+api.PathEnroll, "", map[string]string{"Content-Type": "application/json"}, body, nil)
		var er api.EnrollResponse
		_ = json.NewDecoder(resp.Body).Decode(&er)
		return resp.StatusCode, er
	}
	heartbeat := func(token string) int {
		t.Helper()
		return call(t, "POST", tc.URL+api.PathHeartbeat, token, map[string]string{"Content-Type": "application/json"},
			[]byte(`{"capture_state":"running","agent_version":"1.0.0"}`), nil).StatusCode
	}
	if code, _ := enroll(enrollSecret); code != http.StatusCreated {
		t.Fatalf("enroll with the configuration's secret: %d", code)
	}
	code, er := enroll(value)
	if code != http.StatusCreated || er.DeviceToken == "" {
		t.Fatalf("enroll with the web view's secret: %d %+v", code, er)
	}
	if code := heartbeat(er.DeviceToken); code != http.StatusNoContent {
		t.Fatalf("heartbeat of a device enrolled with the web view's secret: %d", code)
	}
	dev, err := tc.Coll.Store().ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range dev {
		found = found || d.ID == er.DeviceID && d.EnrollSecret == "web-laptops"
	}
	if !found {
		t.Errorf("device %s is not recorded as enrolled with web-laptops: %+v", er.DeviceID, dev)
	}
	if code, _ := enroll("not-a-secret"); code != http.StatusUnauthorized {
		t.Errorf("enroll with an unknown secret: %d, want 401", code)
	}

	if err := tc.Coll.Store().RevokeEnrollSecret(ctx, "web-laptops", "it@example.com", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := enroll(value); code != http.StatusForbidden {
		t.Errorf("enroll with a revoked web view secret: %d, want 403", code)
	}
	if code := heartbeat(er.DeviceToken); code != http.StatusForbidden {
		t.Errorf("heartbeat of a device enrolled with a revoked secret: %d, want 403", code)
	}
	if code, _ := enroll(enrollSecret); code != http.StatusCreated {
		t.Errorf("the configuration's secret stopped working: %d", code)
	}
}
