package web

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/signatures"
)

// maxPageBytes is the budget for every page.
const maxPageBytes = 300 << 10

// benchGrantScopes are what third-party apps typically ask a Google
// Workspace user for; gmail.readonly raises risky_oauth.
var benchGrantScopes = []string{
	"openid email profile",
	"openid https://www.googleapis.com/auth/drive.readonly",
	"https://www.googleapis.com/auth/gmail.readonly openid email",
}

// seedBenchCompany fills a store with a 20,000-person company using 2,000
// apps (the catalog's, then apps it does not know), about 15 each with a
// skewed popularity (the source mix is below), tenants,
// invoices for every fifth app over 12 months and a share of decisions.
func seedBenchCompany(b *testing.B, f *invFixture) {
	b.Helper()
	ctx := context.Background()
	cat, err := signatures.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	const apps, people, appsPerPerson = 2000, 20000, 15
	ids := make([]string, 0, apps)
	for _, a := range cat.Apps {
		ids = append(ids, a.ID)
	}
	for i := len(ids); i < apps; i++ {
		ids = append(ids, fmt.Sprintf("bench-app-%04d", i))
	}
	ids = ids[:apps]
	rng := rand.New(rand.NewPCG(5, 6))
	ev := make([]collector.Evidence, 0, 2000)
	flush := func() {
		if _, err := f.store.AddEvidence(ctx, ev); err != nil {
			b.Fatal(err)
		}
		ev = ev[:0]
	}
	add := func(e collector.Evidence) {
		ev = append(ev, e)
		if len(ev) == cap(ev) {
			flush()
		}
	}
	for p := range people {
		person := fmt.Sprintf("person%05d@acme.example", p)
		for range appsPerPerson {
			a := int(float64(apps) * rng.Float64() * rng.Float64())
			first := invNow.AddDate(0, 0, -rng.IntN(120))
			// Half seen by the agent, a quarter granted over OAuth, a
			// quarter signed in through the IdP.
			src, detail, device := collector.SourceDNS, "", fmt.Sprintf("dev-%05d", p)
			switch rng.IntN(4) {
			case 0:
				src, detail, device = collector.SourceOAuthGrant, benchGrantScopes[rng.IntN(len(benchGrantScopes))], ""
			case 1:
				src, detail, device = collector.SourceSSOLogin, "okta", ""
			}
			add(collector.Evidence{AppID: ids[a], Source: src, Person: person, DeviceID: device, Day: first.Format(time.DateOnly),
				FirstSeen: first, LastSeen: invNow.Add(-time.Hour), Count: 1, Tenant: fmt.Sprintf("acme-%d", a%3),
				Detail: detail, DedupeKey: fmt.Sprintf("%s|%s|%s", src, ids[a], person)})
		}
	}
	for a := 0; a < apps; a += 5 {
		for m := range 12 {
			day := invNow.AddDate(0, -m, 0)
			add(collector.Evidence{AppID: ids[a], Source: collector.SourceInvoice, Day: day.Format(time.DateOnly),
				FirstSeen: day, LastSeen: day, AmountCents: int64(1000 + rng.IntN(500000)), Currency: []string{"USD", "USD", "EUR"}[a%3],
				DedupeKey: fmt.Sprintf("invoice|%s|%d", ids[a], m)})
		}
	}
	flush()
	for a := 0; a < apps; a += 4 {
		if _, err := f.store.SetStatus(ctx, collector.StatusChange{AppID: ids[a], To: collector.StatusApproved, By: "it@acme.example", Why: "reviewed"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInventoryPage renders the inventory's pages through their
// handlers over a real SQLite store with 2,000 apps and 20,000 people:
// the goal is at most 150 ms a page and at most 300 KB.
func BenchmarkInventoryPage(b *testing.B) {
	f := newInvFixture(b)
	seedBenchCompany(b, f)
	pages := []struct {
		name   string
		h      func(http.ResponseWriter, *http.Request, session)
		target string
	}{
		{"apps", f.srv.appsPage, "/apps"},
		{"apps-outside-idp-by-spend", f.srv.appsPage, "/apps?flag=outside_idp&sort=spend"},
		{"apps-search-page-3", f.srv.appsPage, "/apps?q=acme&page=3"},
		{"overview", f.srv.overviewPage, "/"},
	}
	// The inventory query alone, so the page's own cost is the
	// difference.
	b.Run("inventory-query", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.srv.opts.Inventory.Apps(context.Background(), inventory.Query{Limit: appsPerPage}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := get(f, p.h, p.target)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", p.target, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "page-bytes")
			if size > maxPageBytes {
				b.Errorf("GET %s is %d bytes, over %d", p.target, size, maxPageBytes)
			}
		})
	}
}
