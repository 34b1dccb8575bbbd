package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/shadowmap/shadowmap/collector"
)

// InventoryOptions configure an inventory run.
type InventoryOptions struct {
	Apps        int // distinct apps with evidence
	People      int
	AppsPerUser int // apps each person was seen using
	Runs        int // timed queries
	DataDir     string
	Progress    io.Writer
}

// InventoryResult is what an inventory run measured: the full inventory
// query (every app row computed, sorted, first page returned) over HTTP.
type InventoryResult struct {
	Apps, People, EvidenceRows int
	Runs                       int
	P50, P99, Max              time.Duration
	SeedTime                   time.Duration
}

// grantScopes are the scope sets the seeded OAuth grants carry: what
// third-party apps typically ask a Google Workspace user for.
var grantScopes = []string{
	"openid email profile",
	"openid email profile https://www.googleapis.com/auth/calendar.readonly",
	"openid https://www.googleapis.com/auth/drive.readonly",
	"https://www.googleapis.com/auth/gmail.readonly openid email",
	"https://www.googleapis.com/auth/drive.file openid",
}

// Inventory seeds a store with a large company's evidence and times the
// app list the web view and API serve.
func Inventory(ctx context.Context, o InventoryOptions) (InventoryResult, error) {
	if o.Apps <= 0 {
		o.Apps = 2000
	}
	if o.People <= 0 {
		o.People = 20000
	}
	if o.AppsPerUser <= 0 {
		o.AppsPerUser = 15
	}
	if o.Runs <= 0 {
		o.Runs = 30
	}
	dir := o.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "shadowmap-bench-")
		if err != nil {
			return InventoryResult{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	url, c, stop, err := startCollector(ctx, dir, nil)
	if err != nil {
		return InventoryResult{}, fmt.Errorf("start collector: %w", err)
	}
	defer stop()

	// Seed through the store: SSO logins and OAuth grants per person, the
	// importer-shaped evidence a big company has, plus some invoices.
	seedStart := time.Now()
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Now().UTC()
	day := now.Format(time.DateOnly)
	rows := 0
	const chunk = 2000
	ev := make([]collector.Evidence, 0, chunk)
	flush := func() error {
		if len(ev) == 0 {
			return nil
		}
		if _, err := c.Store().AddEvidence(ctx, ev); err != nil {
			return err
		}
		rows += len(ev)
		ev = ev[:0]
		return nil
	}
	// App popularity is skewed: a few apps everyone uses, a long tail.
	pick := func() int { return int(float64(o.Apps) * rng.Float64() * rng.Float64()) }
	for p := range o.People {
		person := fmt.Sprintf("person%05d@example.com", p)
		for range o.AppsPerUser {
			app := fmt.Sprintf("bench-app-%04d", pick())
			src, detail := collector.SourceSSOLogin, "okta"
			if rng.IntN(4) == 0 {
				src, detail = collector.SourceOAuthGrant, grantScopes[rng.IntN(len(grantScopes))]
			}
			ev = append(ev, collector.Evidence{
				AppID: app, Source: src, Person: person, Day: day, FirstSeen: now.Add(-48 * time.Hour), LastSeen: now,
				Count: 1, Tenant: "acme", Detail: detail, DedupeKey: fmt.Sprintf("%s|%s|%s", src, app, person),
			})
			if len(ev) == chunk {
				if err := flush(); err != nil {
					return InventoryResult{}, fmt.Errorf("seed: %w", err)
				}
			}
		}
		if o.Progress != nil && p > 0 && p%5000 == 0 {
			fmt.Fprintf(o.Progress, "seeded %d people\n", p)
		}
	}
	for a := range o.Apps {
		ev = append(ev, collector.Evidence{
			AppID: fmt.Sprintf("bench-app-%04d", a), Source: collector.SourceInvoice, Day: day,
			FirstSeen: now, LastSeen: now, Count: 1, AmountCents: int64(1000 + rng.IntN(100000)), Currency: "USD",
			DedupeKey: fmt.Sprintf("invoice|%d", a),
		})
		if len(ev) == chunk {
			if err := flush(); err != nil {
				return InventoryResult{}, fmt.Errorf("seed: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return InventoryResult{}, fmt.Errorf("seed: %w", err)
	}
	res := InventoryResult{Apps: o.Apps, People: o.People, EvidenceRows: rows, Runs: o.Runs, SeedTime: time.Since(seedStart)}

	times := make([]time.Duration, 0, o.Runs)
	for range o.Runs {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/apps?sort=people", nil)
		req.Header.Set("Authorization", "Bearer "+benchAdmin)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return res, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("GET /api/v1/apps: HTTP %d", resp.StatusCode)
		}
		times = append(times, d)
	}
	slices.Sort(times)
	res.P50 = times[len(times)/2]
	res.P99 = times[min(len(times)-1, len(times)*99/100)]
	res.Max = times[len(times)-1]
	return res, nil
}
