package digest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin for the DST cases, on any test machine

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/collector/store/sqlite"
	"github.com/shadowmap/shadowmap/signatures"
)

// fixtureNow is the fake clock: Wednesday of 2026-W48, so the week is
// Mon 23 Nov to Mon 30 Nov and the last full month is October.
var fixtureNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixtureDeps is one company in a real SQLite store, read through the real
// inventory and the embedded catalog. Each finding the digest makes is
// here once, next to a near miss that must stay out.
func fixtureDeps(t *testing.T) Deps {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return fixtureNow }
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shadowmap.db"), sqlite.Options{Now: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	catalog, err := signatures.Embedded()
	if err != nil {
		t.Fatal(err)
	}

	var ev []collector.Evidence
	use := func(app string, people int, first string) {
		for i := range people {
			ev = append(ev, collector.Evidence{AppID: app, Source: collector.SourceDNS, Person: fmt.Sprintf("p%d@acme.example", i),
				DeviceID: fmt.Sprintf("dev-%d", i), Day: first, FirstSeen: at(first + "T09:00:00Z"), LastSeen: at("2026-11-25T09:00:00Z"),
				Count: 3, Domain: app + ".com", DedupeKey: fmt.Sprintf("dns:%s:%d", app, i)})
		}
	}
	invoice := func(app, day, ccy string, cents int64) {
		ev = append(ev, collector.Evidence{AppID: app, Source: collector.SourceInvoice, Person: "billing@acme.example", Day: day,
			FirstSeen: at(day + "T08:00:00Z"), LastSeen: at(day + "T08:00:00Z"), Detail: "invoice " + day,
			AmountCents: cents, Currency: ccy, DedupeKey: "invoice:" + app + ":" + day})
	}
	use("slack", 6, "2026-06-01")  // outside the IdP for months: standing list only
	use("notion", 3, "2026-11-24") // new this week, outside the IdP
	use("figma", 2, "2026-11-23")  // new this week, inside Okta
	use("miro", 1, "2026-11-22")   // first seen the Sunday before: not new
	// Slack bills monthly and doubled in October: rising spend, and its
	// next monthly invoice (5 Dec) is a renewal within 30 days.
	invoice("slack", "2026-09-05", "USD", 60000)
	invoice("slack", "2026-10-05", "USD", 120000)
	invoice("slack", "2026-11-05", "USD", 120000)
	// Miro: one invoice a year ago, none since: annual, renews 10 Dec.
	invoice("miro", "2025-12-10", "USD", 1200000)
	// Asana: annual, but renews in January: outside the window.
	invoice("asana", "2026-01-30", "USD", 500000)
	// Canva: first invoice this week: new spend.
	invoice("canva", "2026-11-24", "EUR", 11999)
	// Airtable: first invoice the week before: not new.
	invoice("airtable", "2026-11-16", "USD", 2000)
	if _, err := store.AddEvidence(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := store.SetInsideIdP(ctx, "figma", "okta"); err != nil {
		t.Fatal(err)
	}

	grants := []collector.OAuthGrant{
		{Provider: "google", Person: "ann@acme.example", ClientID: "notion-client", AppID: "notion", Name: "Notion",
			Scopes: []string{"openid", "https://www.googleapis.com/auth/gmail.readonly"}, GrantedAt: at("2026-11-24T10:00:00Z")},
		{Provider: "google", Person: "bob@acme.example", ClientID: "notion-client", AppID: "notion", Name: "Notion",
			Scopes: []string{"https://www.googleapis.com/auth/drive"}, GrantedAt: at("2026-11-25T10:00:00Z")},
		// A client the catalog does not know, with a hostile name.
		{Provider: "google", Person: "cat@acme.example", ClientID: "123-evil.apps.googleusercontent.com", Name: `<img src=x onerror=alert(1)> Mail "Helper"`,
			Scopes: []string{"https://mail.google.com/"}, GrantedAt: at("2026-11-23T00:30:00Z")},
		// Low risk this week, and high risk last week: both stay out.
		{Provider: "google", Person: "dan@acme.example", ClientID: "zoom-client", AppID: "zoom", Name: "Zoom",
			Scopes: []string{"openid", "email"}, GrantedAt: at("2026-11-24T10:00:00Z")},
		{Provider: "google", Person: "eve@acme.example", ClientID: "miro-client", AppID: "miro", Name: "Miro",
			Scopes: []string{"https://www.googleapis.com/auth/gmail.readonly"}, GrantedAt: at("2026-11-20T10:00:00Z")},
	}
	if err := store.UpsertGrants(ctx, grants); err != nil {
		t.Fatal(err)
	}

	// Twelve agents silent for 8 to 19 days, one fresh, one revoked.
	for i := range 12 {
		d := collector.Device{ID: fmt.Sprintf("silent-%02d", i), Hostname: fmt.Sprintf("laptop-%02d", i), OS: "darwin",
			OwnerEmail: fmt.Sprintf("owner%02d@acme.example", i), EnrolledAt: at("2026-01-01T00:00:00Z"),
			LastSeenAt: fixtureNow.Add(-time.Duration(8+i) * 24 * time.Hour)}
		if err := store.CreateDevice(ctx, d, []byte(d.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []collector.Device{
		{ID: "fresh", Hostname: "fresh", EnrolledAt: at("2026-01-01T00:00:00Z"), LastSeenAt: fixtureNow.Add(-time.Hour)},
		{ID: "gone", Hostname: "gone", EnrolledAt: at("2026-01-01T00:00:00Z"), LastSeenAt: at("2026-02-01T00:00:00Z"), Revoked: true},
	} {
		if err := store.CreateDevice(ctx, d, []byte(d.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []collector.SourceRun{
		{Source: "okta", StartedAt: at("2026-11-25T06:00:00Z"), FinishedAt: at("2026-11-25T06:01:00Z")},
		{Source: "google", StartedAt: at("2026-11-20T06:00:00Z"), FinishedAt: at("2026-11-20T06:01:00Z")},
		{Source: "google", StartedAt: at("2026-11-25T06:00:00Z"), FinishedAt: at("2026-11-25T06:01:00Z"),
			Error: "reports API: 401 Unauthorized: the service account lost domain-wide delegation"},
	} {
		if err := store.RecordSourceRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	inv := inventory.New(catalog, store, store, inventory.Options{Clock: clock, Grants: store})
	return Deps{Inventory: inv, Sources: store, Devices: store, Grants: store, Invoices: store, Catalog: catalog}
}

func fixtureDigest(t *testing.T) Digest {
	t.Helper()
	d, err := Build(context.Background(), fixtureDeps(t), WeekOf(fixtureNow, time.UTC), fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuild(t *testing.T) {
	d := fixtureDigest(t)
	ids := func(l []AppLine) []string {
		var out []string
		for _, a := range l {
			out = append(out, a.ID)
		}
		return out
	}
	if got, want := ids(d.NewApps), []string{"notion", "figma", "canva"}; !slices.Equal(got, want) {
		t.Errorf("new apps = %v, want %v", got, want)
	}
	if got := ids(d.OutsideIdP); len(got) < 2 || got[0] != "slack" || got[1] != "notion" || slices.Contains(got, "figma") {
		t.Errorf("outside the IdP = %v, want slack then notion, no figma", got)
	}
	for _, a := range d.OutsideIdP {
		if a.ID == "slack" && (a.SSO == "" || a.NextStep == "") {
			t.Errorf("slack readiness missing: %+v", a)
		}
	}
	if len(d.NewApps) > 0 && !slices.Equal(d.NewApps[0].Sources, []collector.Source{collector.SourceDNS}) {
		t.Errorf("notion sources = %v", d.NewApps[0].Sources)
	}

	if len(d.RiskyGrants) != 2 {
		t.Fatalf("risky grants = %+v, want notion and the unknown client", d.RiskyGrants)
	}
	n := d.RiskyGrants[0]
	if n.AppID != "notion" || !slices.Equal(n.People, []string{"ann@acme.example", "bob@acme.example"}) || len(n.Scopes) != 2 {
		t.Errorf("notion grant line = %+v", n)
	}
	if u := d.RiskyGrants[1]; u.AppID != "" || u.ClientID != "123-evil.apps.googleusercontent.com" {
		t.Errorf("unknown client line = %+v", u)
	}

	if len(d.NewSpend) != 1 || d.NewSpend[0].AppID != "canva" || d.NewSpend[0].Cents != 11999 || d.NewSpend[0].Currency != "EUR" {
		t.Errorf("new spend = %+v", d.NewSpend)
	}
	if len(d.RisingSpend) != 1 || d.RisingSpend[0].AppID != "slack" || d.RisingSpend[0].Percent != 100 ||
		d.RisingSpend[0].Month != "2026-10" || d.RisingSpend[0].PrevMonth != "2026-09" {
		t.Errorf("rising spend = %+v", d.RisingSpend)
	}
	var renewals []string
	for _, r := range d.Renewals {
		renewals = append(renewals, fmt.Sprintf("%s %s %s", r.AppID, r.Cadence, r.Next.Format(time.DateOnly)))
	}
	if want := []string{"slack monthly 2026-12-05", "miro annual 2026-12-10"}; !slices.Equal(renewals, want) {
		t.Errorf("renewals = %v, want %v", renewals, want)
	}

	if d.SilentCount != 12 || len(d.SilentAgents) != TopSilent || d.SilentAgents[0].ID != "silent-11" {
		t.Errorf("silent agents: count %d, top %d, first %+v", d.SilentCount, len(d.SilentAgents), d.SilentAgents[0])
	}
	if len(d.FailingSources) != 1 || d.FailingSources[0].Source != "google" {
		t.Errorf("failing sources = %+v", d.FailingSources)
	}
	if d.Empty() {
		t.Error("a week with findings is Empty")
	}
}

func TestBuildEmptyWeek(t *testing.T) {
	// A week long ago: nothing was first seen, granted or invoiced in it,
	// and with no device or source readers there is no sensor trouble.
	deps := fixtureDeps(t)
	deps.Devices, deps.Sources, deps.Invoices = nil, nil, nil
	week, err := ParseISOWeek("2026-W10", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Build(context.Background(), deps, week, week.End.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Errorf("week 10 is not empty: %+v", d)
	}
	if len(d.OutsideIdP) == 0 {
		t.Error("the standing outside-IdP list should still be there")
	}
}

func TestBuildNeedsInventory(t *testing.T) {
	if _, err := Build(context.Background(), Deps{}, WeekOf(fixtureNow, nil), fixtureNow); err == nil {
		t.Error("Build without an inventory succeeded")
	}
}

func TestWeekOf(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		t          time.Time
		loc        *time.Location
		start, end string
		iso        string
	}{
		{"wednesday", fixtureNow, time.UTC, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "2026-W48"},
		{"monday midnight is its own week", at("2026-11-23T00:00:00Z"), time.UTC, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "2026-W48"},
		{"sunday late", at("2026-11-29T23:59:59Z"), time.UTC, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "2026-W48"},
		{"zone moves the day", at("2026-11-22T23:30:00Z"), berlin, "2026-11-23T00:00:00+01:00", "2026-11-30T00:00:00+01:00", "2026-W48"},
		{"DST spring forward week", at("2026-03-29T12:00:00Z"), berlin, "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-W13"},
		{"year boundary", at("2027-01-01T12:00:00Z"), time.UTC, "2026-12-28T00:00:00Z", "2027-01-04T00:00:00Z", "2026-W53"},
		{"nil location is UTC", fixtureNow, nil, "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z", "2026-W48"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := WeekOf(tc.t, tc.loc)
			if !w.Start.Equal(at(tc.start)) || !w.End.Equal(at(tc.end)) {
				t.Errorf("WeekOf = %v to %v, want %s to %s", w.Start, w.End, tc.start, tc.end)
			}
			if w.ISO() != tc.iso {
				t.Errorf("ISO = %s, want %s", w.ISO(), tc.iso)
			}
		})
	}
}

func TestParseISOWeek(t *testing.T) {
	tests := []struct {
		in, start string
		bad       bool
	}{
		{in: "2026-W48", start: "2026-11-23T00:00:00Z"},
		{in: "2026-w01", start: "2025-12-29T00:00:00Z"},
		{in: "2026-W53", start: "2026-12-28T00:00:00Z"},
		{in: "2021-W01", start: "2021-01-04T00:00:00Z"},
		{in: " 2027-W01 ", start: "2027-01-04T00:00:00Z"},
		{in: "2025-W53", bad: true}, // 2025 has 52 weeks
		{in: "2026-W00", bad: true},
		{in: "2026-W54", bad: true},
		{in: "2026-48", bad: true},
		{in: "2026W48", bad: true},
		{in: "26-W48", bad: true},
		{in: "2026-Wxx", bad: true},
		{in: "", bad: true},
	}
	for _, tc := range tests {
		w, err := ParseISOWeek(tc.in, time.UTC)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseISOWeek(%q) = %v, want an error", tc.in, w)
			}
			continue
		}
		if err != nil || !w.Start.Equal(at(tc.start)) || !w.End.Equal(at(tc.start).AddDate(0, 0, 7)) {
			t.Errorf("ParseISOWeek(%q) = %v, %v; want start %s", tc.in, w, err, tc.start)
		}
	}
}

func TestRenewalsCadence(t *testing.T) {
	day := func(s string) time.Time { return at(s + "T00:00:00Z") }
	tests := []struct {
		name     string
		invoices []string
		want     string // "" for no renewal listed
	}{
		{"monthly", []string{"2026-10-10", "2026-11-10"}, "monthly 2026-12-10"},
		{"annual pair", []string{"2024-12-01", "2025-12-01"}, "annual 2026-12-01"},
		{"single old invoice looks annual", []string{"2025-12-20"}, "annual 2026-12-20"},
		{"single recent invoice: too early to tell", []string{"2026-11-01"}, ""},
		{"weekly: no prediction", []string{"2026-11-11", "2026-11-18"}, ""},
		{"monthly, next already past", []string{"2026-09-20", "2026-10-20"}, ""},
		{"annual, beyond the window", []string{"2026-02-01"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l []invoice
			for _, s := range tc.invoices {
				l = append(l, invoice{day: day(s), currency: "USD", cents: 100})
			}
			got := renewals(map[string][]invoice{"x": l}, nil, fixtureNow)
			var s string
			if len(got) == 1 {
				s = string(got[0].Cadence) + " " + got[0].Next.Format(time.DateOnly)
			}
			if len(got) > 1 || s != tc.want {
				t.Errorf("renewals = %+v, want %q", got, tc.want)
			}
		})
	}
}

func TestRisingSpendThreshold(t *testing.T) {
	row := func(prev, cur int64) inventory.AppRow {
		return inventory.AppRow{ID: "x", Name: "X", Spend: []inventory.MonthSpend{
			{Month: "2026-09", Amounts: []inventory.Money{{Currency: "USD", Cents: prev}}},
			{Month: "2026-10", Amounts: []inventory.Money{{Currency: "USD", Cents: cur}}},
		}}
	}
	tests := []struct {
		prev, cur int64
		rising    bool
	}{
		{100, 120, true}, // exactly +20%
		{100, 119, false},
		{0, 500, false}, // new, not rising
		{500, 0, false},
		{1000, 5000, true},
	}
	for _, tc := range tests {
		got := risingSpend([]inventory.AppRow{row(tc.prev, tc.cur)}, fixtureNow)
		if (len(got) == 1) != tc.rising {
			t.Errorf("%d -> %d: rising = %+v, want %v", tc.prev, tc.cur, got, tc.rising)
		}
	}
}
