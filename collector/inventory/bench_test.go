package inventory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/signatures"
)

// benchFleet is a 20,000-person company with 2,000 apps: every app of the
// embedded catalog plus apps the catalog does not know, each person using
// about 15 of them, with a realistic share of states, invoices and grants.
func benchFleet(b *testing.B) (*signatures.Catalog, *fakeUsageWithGrants, *fakeStates) {
	b.Helper()
	cat, err := signatures.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	const apps, people, appsPerPerson = 2000, 20000, 15
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 0, apps)
	for _, a := range cat.Apps {
		if len(ids) < apps {
			ids = append(ids, a.ID)
		}
	}
	for i := len(ids); i < apps; i++ {
		ids = append(ids, fmt.Sprintf("custom-%04d", i))
	}

	usage := &fakeUsageWithGrants{grants: make(map[string][]string)}
	users := make([]int, apps)
	for p := 0; p < people; p++ {
		pu := collector.PersonUsage{Email: fmt.Sprintf("person%05d@acme.example", p), Devices: []string{fmt.Sprintf("dev-%05d", p)}, FirstSeen: fixtureNow.AddDate(0, -6, 0), LastSeen: fixtureNow}
		for range appsPerPerson {
			// A skewed pick: a few apps everyone uses, a long tail.
			a := int(float64(apps) * rng.Float64() * rng.Float64())
			users[a]++
			pu.Apps = append(pu.Apps, ids[a])
		}
		usage.people = append(usage.people, pu)
	}
	states := &fakeStates{states: make(map[string]collector.AppState)}
	for i, id := range ids {
		u := collector.AppUsage{
			AppID: id, People: users[i], Devices: users[i] + users[i]/10,
			BySource:  map[collector.Source]int64{collector.SourceDNS: int64(users[i] * 40), collector.SourceSNI: int64(users[i] * 30)},
			FirstSeen: fixtureNow.AddDate(0, 0, -rng.IntN(365)), LastSeen: fixtureNow.Add(-time.Duration(rng.IntN(72)) * time.Hour),
		}
		if i%3 == 0 {
			u.Tenants = []string{"acme", fmt.Sprintf("team%d", i%7)}
		}
		if i%5 == 0 {
			u.BySource[collector.SourceInvoice] = 12
			u.SpendCents = make(map[string]map[string]int64)
			for m := 0; m < 12; m++ {
				u.SpendCents[fixtureNow.AddDate(0, -m, 0).Format("2006-01")] = map[string]int64{"USD": int64(rng.IntN(500000))}
			}
		}
		if i%8 == 0 {
			u.BySource[collector.SourceOAuthGrant] = int64(users[i])
			usage.grants[id] = []string{"openid email https://www.googleapis.com/auth/drive", "Mail.Read User.Read"}
		}
		usage.apps = append(usage.apps, u)
		if i%4 == 0 {
			states.states[id] = collector.AppState{AppID: id, Status: collector.StatusApproved, By: "it@acme.example", At: fixtureNow.AddDate(0, -1, 0), InsideIdP: "okta"}
		}
	}
	return cat, usage, states
}

func BenchmarkApps(b *testing.B) {
	cat, usage, states := benchFleet(b)
	inv := New(cat, usage, states, Options{Clock: fixedClock})
	ctx := context.Background()
	queries := []struct {
		name string
		q    Query
	}{
		{"first-page", Query{}},
		{"all-rows", Query{Limit: MaxLimit, Page: 2}},
		{"flag-outside-idp", Query{Flag: FlagOutsideIdP}},
		{"text", Query{Text: "acme"}},
		{"sort-spend", Query{Sort: SortSpend}},
	}
	for _, qq := range queries {
		b.Run(qq.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inv.Apps(ctx, qq.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPeople(b *testing.B) {
	cat, usage, states := benchFleet(b)
	inv := New(cat, usage, states, Options{Clock: fixedClock})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inv.People(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
