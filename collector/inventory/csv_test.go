package inventory

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
)

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1":                "'+1",
		"-2":                "'-2",
		"@cmd":              "'@cmd",
		"\tx":               "'\tx",
		"\rx":               "'\rx",
		"Slack":             "Slack",
		"":                  "",
	} {
		if got := CSVSafe(in); got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	rows := []AppRow{{ID: "x", Name: "=cmd|' /C calc'!A0", Tenants: []string{"@evil", "acme"}, Status: "unreviewed",
		LastMonthSpend: []Money{{Currency: "USD", Cents: 1234}}}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(recs[1]) != len(CSVHeader()) {
		t.Fatalf("records %v", recs)
	}
	if recs[1][1] != "'=cmd|' /C calc'!A0" || recs[1][15] != "'@evil acme" || recs[1][18] != "USD 12.34" {
		t.Errorf("record %q", recs[1])
	}
}

func TestAllAppsMatchesEveryPage(t *testing.T) {
	// 700 apps, some in the catalog, with people, tenants, invoices and
	// decisions spread over them, so filters and sorts have ties to break.
	cat := loadCatalog(t)
	usage := &fakeUsageWithGrants{grants: map[string][]string{}}
	states := &fakeStates{states: map[string]collector.AppState{}}
	ids := []string{}
	for _, a := range cat.Apps {
		ids = append(ids, a.ID)
	}
	for i := len(ids); i < 700; i++ {
		ids = append(ids, fmt.Sprintf("custom-%03d", i))
	}
	for i, id := range ids {
		u := collector.AppUsage{AppID: id, People: i % 17, Devices: i % 5,
			BySource:  map[collector.Source]int64{collector.SourceDNS: int64(i%3 + 1)},
			FirstSeen: fixtureNow.AddDate(0, 0, -i%40), LastSeen: fixtureNow}
		if i%3 == 0 {
			u.Tenants = []string{"acme", fmt.Sprintf("t%d", i%4)}
		}
		if i%5 == 0 {
			u.SpendCents = map[string]map[string]int64{"2026-10": {"USD": int64(i * 100)}}
		}
		usage.apps = append(usage.apps, u)
		if i%4 == 0 {
			states.states[id] = collector.AppState{AppID: id, Status: collector.StatusApproved, InsideIdP: "okta"}
		}
	}
	inv := New(cat, usage, states, Options{Clock: fixedClock})
	ctx := context.Background()
	for _, q := range []Query{{}, {Flag: FlagOutsideIdP, Sort: SortName}, {Text: "acme", Sort: SortSpend, Order: "asc"}} {
		all, err := inv.AllApps(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var paged []AppRow
		q.Limit = 300
		for q.Page = 1; ; q.Page++ {
			p, err := inv.Apps(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, p.Apps...)
			if len(p.Apps) == 0 {
				break
			}
		}
		if len(all) != len(paged) || len(all) == 0 {
			t.Fatalf("%+v: %d rows, %d paged", q, len(all), len(paged))
		}
		for i := range all {
			if all[i].ID != paged[i].ID || len(all[i].Flags) != len(paged[i].Flags) {
				t.Fatalf("%+v: row %d is %s, paged %s", q, i, all[i].ID, paged[i].ID)
			}
		}
	}
	if _, err := inv.AllApps(ctx, Query{Sort: "nope"}); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("bad sort: %v", err)
	}
}
