package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/internal/golden"
)

func allApps(t *testing.T, inv *Inventory) map[string]AppRow {
	t.Helper()
	p, err := inv.Apps(context.Background(), Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	rows := make(map[string]AppRow, len(p.Apps))
	for _, r := range p.Apps {
		rows[r.ID] = r
	}
	return rows
}

func TestAppsGolden(t *testing.T) {
	p, err := newFixture(t).Apps(context.Background(), Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/apps.golden.json", string(out)+"\n")
}

func TestAppsOneRowPerAppWithEvidenceOrState(t *testing.T) {
	rows := allApps(t, newFixture(t))
	var ids []string
	for id := range rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := []string{"board", "chat", "chat-old", "custom-tool", "deals", "design", "forms", "mailer", "mystery", "notes", "vpn"}
	if !slices.Equal(ids, want) {
		t.Errorf("rows %v, want %v", ids, want)
	}
}

func TestFlags(t *testing.T) {
	rows := allApps(t, newFixture(t))
	tests := []struct {
		app  string
		want []Flag
	}{
		{"chat", []Flag{FlagOutsideIdP, FlagSSOAvailableNotUsed, FlagPaidOutsideIdP, FlagMultipleTenants}},
		{"notes", []Flag{FlagRiskyOAuth, FlagNewThisWeek}},
		{"board", []Flag{FlagNoSCIM}},
		{"forms", []Flag{FlagOutsideIdP}},
		{"mystery", []Flag{FlagNoSCIM}},
		{"vpn", nil},
		{"mailer", []Flag{FlagSSOAvailableNotUsed, FlagPaidOutsideIdP}},
		{"deals", []Flag{FlagOutsideIdP, FlagSSOAvailableNotUsed, FlagRiskyOAuth, FlagNewThisWeek}},
		{"custom-tool", []Flag{FlagNoSCIM}},
		{"design", nil},
		{"chat-old", nil},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			r, ok := rows[tt.app]
			if !ok {
				t.Fatalf("no row for %s", tt.app)
			}
			var got []Flag
			for _, n := range r.Flags {
				got = append(got, n.Flag)
				if n.Why == "" || !strings.HasSuffix(n.Why, ".") || strings.Contains(n.Why, "\n") {
					t.Errorf("%s: explanation %q is not one sentence", n.Flag, n.Why)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("flags %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFlagExplanations(t *testing.T) {
	rows := allApps(t, newFixture(t))
	tests := []struct {
		app  string
		flag Flag
		want string
	}{
		{"chat", FlagOutsideIdP, "Used by 40 people on 45 devices (seen by dns, sni) but not in any IdP."},
		{"chat", FlagSSOAvailableNotUsed, "The catalog says the app offers SAML SSO on the Business+ plan, but it is not in the IdP."},
		{"chat", FlagPaidOutsideIdP, "Paid for (3 invoices or receipts) but not in any IdP."},
		{"chat", FlagMultipleTenants, "2 tenants: acme, acme-eu."},
		{"notes", FlagRiskyOAuth, "OAuth grants include high-risk scope: drive."},
		{"notes", FlagNewThisWeek, "First seen 2026-11-20, within the last 7 days."},
		{"board", FlagNoSCIM, "In Microsoft Entra ID, but the catalog says the app has no SCIM: offboarding is manual."},
		{"mystery", FlagNoSCIM, "In the IdP, but the catalog has no identity facts for the app: offboarding is manual until SCIM support is checked."},
		{"deals", FlagRiskyOAuth, "OAuth grants include high-risk scopes: Mail.Read, gmail.readonly."},
		{"mailer", FlagPaidOutsideIdP, "Paid for (2 invoices or receipts) but not in any IdP."},
		{"custom-tool", FlagNoSCIM, "Marked as inside the IdP by IT, but the catalog has no identity facts for the app: offboarding is manual until SCIM support is checked."},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+string(tt.flag), func(t *testing.T) {
			for _, n := range rows[tt.app].Flags {
				if n.Flag == tt.flag {
					if n.Why != tt.want {
						t.Errorf("why\n got %q\nwant %q", n.Why, tt.want)
					}
					return
				}
			}
			t.Errorf("flag %s missing", tt.flag)
		})
	}
}

func TestRowFields(t *testing.T) {
	rows := allApps(t, newFixture(t))

	chat := rows["chat"]
	if chat.Name != "Chatter" || chat.Vendor != "Chatter Technologies, LLC" || chat.Category != "communication" || !chat.InCatalog {
		t.Errorf("chat catalog facts: %+v", chat)
	}
	if !slices.Equal(chat.Tenants, []string{"acme", "acme-eu"}) {
		t.Errorf("chat tenants %v", chat.Tenants)
	}
	if _, ok := chat.Evidence[collector.SourceManual]; ok {
		t.Errorf("a source with no evidence is listed: %v", chat.Evidence)
	}
	if chat.LastMonth != "2026-10" {
		t.Errorf("last month %q", chat.LastMonth)
	}
	wantLast := []Money{{"EUR", 7500}, {"USD", 120000}}
	if !slices.Equal(chat.LastMonthSpend, wantLast) {
		t.Errorf("last month spend %v, want %v (currencies merged case-insensitively)", chat.LastMonthSpend, wantLast)
	}
	if len(chat.Spend) != 3 || chat.Spend[0].Month != "2026-09" || chat.Spend[2].Month != "2026-11" {
		t.Errorf("spend series %+v", chat.Spend)
	}
	if chat.Status != collector.StatusUnreviewed || chat.InsideIdP {
		t.Errorf("chat status %q inside %v", chat.Status, chat.InsideIdP)
	}

	notes := rows["notes"]
	if notes.Status != collector.StatusApproved || notes.StatusBy != "it@acme.example" || notes.StatusWhy != "company wiki" || !notes.StatusAt.Equal(day("2026-11-21")) {
		t.Errorf("notes status: %+v", notes)
	}
	if !notes.InsideIdP || notes.IdP != "okta" {
		t.Errorf("notes inside %v idp %q", notes.InsideIdP, notes.IdP)
	}
	if len(notes.RiskyScopes) != 1 || notes.RiskyScopes[0].Reason != "Reads, changes and deletes every file in Drive." {
		t.Errorf("notes risky scopes %+v", notes.RiskyScopes)
	}

	mystery := rows["mystery"]
	if !mystery.InsideIdP || mystery.IdP != "" {
		t.Errorf("mystery: inside %v idp %q; want inside by SSO-login evidence with no IdP named", mystery.InsideIdP, mystery.IdP)
	}

	custom := rows["custom-tool"]
	if custom.InCatalog || custom.Name != "custom-tool" || custom.Readiness.Known {
		t.Errorf("custom-tool: %+v", custom)
	}

	design := rows["design"]
	if design.Status != collector.StatusIgnored || !design.FirstSeen.IsZero() || design.People != 0 {
		t.Errorf("design (state only): %+v", design)
	}
	if rows["chat-old"].Status != collector.StatusUnreviewed {
		t.Errorf("a state without a status must read unreviewed, got %q", rows["chat-old"].Status)
	}
}

func TestReadiness(t *testing.T) {
	rows := allApps(t, newFixture(t))
	tests := []struct {
		app       string
		byHand    bool
		accounts  int
		nextStep  string
		sso, scim string
	}{
		{"chat", true, 45, "Upgrade to Business+ for SAML SSO and SCIM; then add it to Okta.", "yes", "yes"},
		{"notes", false, 25, "In Okta; turn on SCIM provisioning (it needs Enterprise) so accounts are created and removed automatically.", "yes", "yes"},
		{"board", true, 25, "In Microsoft Entra ID, but the app has no SCIM: remove leavers' accounts by hand.", "yes", "no"},
		{"forms", true, 25, "The app has no SSO and cannot be brought under an IdP: manage its accounts by hand, or replace it.", "no", "no"},
		{"vpn", false, 31, "In Okta; turn on provisioning through Okta's own integration for the app.", "yes", "idp-only"},
		{"mailer", true, 25, "Add it to Okta with SAML SSO; its SCIM is partial, so check what offboarding still needs by hand.", "yes", "partial"},
		{"deals", true, 25, "Add it to Okta with SAML SSO and turn on SCIM provisioning.", "yes", "yes"},
		{"design", true, 25, "SSO support is unknown: check the vendor's SSO and SCIM documentation before adding it to Okta.", "unknown", "unknown"},
		{"chat-old", true, 25, "The catalog has no identity facts for this app yet: check the vendor's SSO and SCIM documentation before adding it to Okta.", "unknown", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			rd := rows[tt.app].Readiness
			if rd.ManagedByHand != tt.byHand {
				t.Errorf("managed by hand %v, want %v", rd.ManagedByHand, tt.byHand)
			}
			if rd.ManualCost.Accounts != tt.accounts {
				t.Errorf("cost scaled to %d accounts, want %d", rd.ManualCost.Accounts, tt.accounts)
			}
			if rd.NextStep != tt.nextStep {
				t.Errorf("next step\n got %q\nwant %q", rd.NextStep, tt.nextStep)
			}
			if rd.SSO != tt.sso || rd.SCIM != tt.scim {
				t.Errorf("sso %q scim %q, want %q %q", rd.SSO, rd.SCIM, tt.sso, tt.scim)
			}
		})
	}

	chat := rows["chat"].Readiness
	if !chat.Known || chat.SSOTier != "Business+" || !slices.Equal(chat.SSOProtocols, []string{"saml"}) ||
		!slices.Equal(chat.SCIMOperations, []string{"create", "update", "deactivate", "groups"}) || chat.JIT != "yes" ||
		chat.IdPNotes["okta"] != "OIN app with SAML and SCIM" || chat.PriceNotes == "" || chat.Checked != "2026-11-01" {
		t.Errorf("chat readiness facts: %+v", chat)
	}
}

// TestReadinessDoesNotShareCatalogSlices checks a caller editing a row
// cannot change the catalog behind the next call.
func TestReadinessDoesNotShareCatalogSlices(t *testing.T) {
	inv := newFixture(t)
	rows := allApps(t, inv)
	rd := rows["chat"].Readiness
	rd.SSOProtocols[0] = "changed"
	rd.IdPNotes["okta"] = "changed"
	again := allApps(t, inv)["chat"].Readiness
	if again.SSOProtocols[0] != "saml" || again.IdPNotes["okta"] != "OIN app with SAML and SCIM" {
		t.Errorf("catalog changed through a returned row: %+v", again)
	}
}

func TestCompanyIdP(t *testing.T) {
	usage, states, grants := fixture()
	cat := loadCatalog(t)
	tests := []struct {
		name string
		opt  string
		drop bool // drop every state naming an IdP
		want string
	}{
		{"configured", "entra", false, "Upgrade to Business+ for SAML SSO and SCIM; then add it to Microsoft Entra ID."},
		{"most apps are inside okta", "", false, "Upgrade to Business+ for SAML SSO and SCIM; then add it to Okta."},
		{"nothing inside", "", true, "Upgrade to Business+ for SAML SSO and SCIM; then add it to your IdP."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStates{states: map[string]collector.AppState{}}
			for id, s := range states.states {
				if tt.drop {
					s.InsideIdP = ""
				}
				st.states[id] = s
			}
			inv := New(cat, usage, st, Options{Clock: fixedClock, Grants: grants, IdP: tt.opt})
			if got := allApps(t, inv)["chat"].Readiness.NextStep; got != tt.want {
				t.Errorf("next step %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	inv := newFixture(t)
	tests := []struct {
		name  string
		q     Query
		want  []string
		total int
	}{
		{"default: most people first", Query{}, []string{"chat", "vpn", "notes", "board", "deals", "mystery", "forms", "custom-tool", "mailer", "chat-old", "design"}, 11},
		{"status", Query{Status: collector.StatusApproved, Sort: SortName}, []string{"custom-tool", "notes", "vpn"}, 3},
		{"flag", Query{Flag: FlagNoSCIM, Sort: SortName}, []string{"custom-tool", "mystery", "board"}, 3},
		{"source", Query{Source: collector.SourceOAuthGrant}, []string{"notes", "deals"}, 2},
		{"category", Query{Category: "CRM"}, []string{"deals"}, 1},
		{"text in name", Query{Text: "chatter"}, []string{"chat"}, 1},
		{"text in vendor, any case", Query{Text: "GMBH"}, []string{"design"}, 1},
		{"text in id", Query{Text: "custom"}, []string{"custom-tool"}, 1},
		{"text in tenant", Query{Text: "acme-eu"}, []string{"chat"}, 1},
		{"text in tenant of two apps", Query{Text: "acme", Sort: SortName}, []string{"chat", "deals"}, 2},
		{"devices asc", Query{Sort: SortDevices, Order: "asc", Source: collector.SourceDNS}, []string{"forms", "board", "vpn", "chat"}, 4},
		{"last seen desc, no-time rows last", Query{Sort: SortLastSeen}, []string{"notes", "vpn", "chat", "board", "deals", "mystery", "forms", "mailer", "custom-tool", "chat-old", "design"}, 11},
		{"first seen asc, no-time rows last", Query{Sort: SortFirstSeen, Order: "asc"}, []string{"vpn", "custom-tool", "board", "chat", "mailer", "mystery", "forms", "deals", "notes", "chat-old", "design"}, 11},
		{"name desc", Query{Sort: SortName, Order: "desc", Limit: 3}, []string{"board", "vpn", "design"}, 11},
		{"spend: USD first, then other currencies", Query{Sort: SortSpend, Limit: 3}, []string{"chat", "mailer", "chat-old"}, 11},
		{"page 2", Query{Sort: SortName, Limit: 4, Page: 2}, []string{"deals", "mystery", "notes", "forms"}, 11},
		{"page past the end", Query{Limit: 5, Page: 9}, []string{}, 11},
		{"nothing matches", Query{Text: "zzz"}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := inv.Apps(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range p.Apps {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
			if p.Total != tt.total {
				t.Errorf("total %d, want %d", p.Total, tt.total)
			}
		})
	}
}

func TestQueryDefaultsAndLimits(t *testing.T) {
	p, err := newFixture(t).Apps(context.Background(), Query{Limit: MaxLimit + 5})
	if err != nil {
		t.Fatal(err)
	}
	if p.Page != 1 || p.Limit != MaxLimit {
		t.Errorf("page %d limit %d, want 1 and %d", p.Page, p.Limit, MaxLimit)
	}
	p, err = newFixture(t).Apps(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Limit != DefaultLimit {
		t.Errorf("limit %d, want %d", p.Limit, DefaultLimit)
	}
}

func TestQueryInvalid(t *testing.T) {
	tests := []Query{
		{Status: "maybe"},
		{Flag: "shiny"},
		{Source: "carrier_pigeon"},
		{Sort: "price"},
		{Order: "up"},
		{Page: -1},
		{Limit: -1},
	}
	inv := newFixture(t)
	for _, q := range tests {
		if err := q.Validate(); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidQuery", q, err)
		}
		if _, err := inv.Apps(context.Background(), q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Apps(%+v) = %v, want ErrInvalidQuery", q, err)
		}
	}
}

func TestApp(t *testing.T) {
	inv := newFixture(t)
	d, err := inv.App(context.Background(), "notes")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "notes" || d.Readiness.NextStep == "" || len(d.Spend) != 0 {
		t.Errorf("row: %+v", d.AppRow)
	}
	if len(d.History) != 2 || d.History[1].To != collector.StatusApproved {
		t.Errorf("history %+v", d.History)
	}

	d, err = inv.App(context.Background(), "design")
	if err != nil {
		t.Fatal(err)
	}
	if d.History == nil {
		t.Error("history must be an empty list, not null, when there is none")
	}

	for _, id := range []string{"nope", "slack", ""} {
		if _, err := inv.App(context.Background(), id); !errors.Is(err, collector.ErrNotFound) {
			t.Errorf("App(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestStoreErrorsAreWrapped(t *testing.T) {
	boom := errors.New("disk on fire")
	cat := loadCatalog(t)
	usage, states, _ := fixture()
	tests := []struct {
		name string
		inv  *Inventory
	}{
		{"usage", New(cat, &fakeUsage{err: boom}, states, Options{Clock: fixedClock})},
		{"states", New(cat, usage, &fakeStates{err: boom}, Options{Clock: fixedClock})},
		{"grants", New(cat, &fakeUsageWithGrants{fakeUsage: fakeUsage{apps: usage.apps, err: boom}}, states, Options{Clock: fixedClock})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.inv.Apps(context.Background(), Query{}); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "inventory: ") {
				t.Errorf("Apps: %v", err)
			}
			if _, err := tt.inv.App(context.Background(), "notes"); !errors.Is(err, boom) {
				t.Errorf("App: %v", err)
			}
		})
	}
	if _, err := New(cat, &fakeUsage{err: boom}, states, Options{}).People(context.Background()); !errors.Is(err, boom) {
		t.Errorf("People: %v", err)
	}
	hist := &fakeStates{states: states.states, err: nil}
	inv := New(cat, usage, historyFails{hist, boom}, Options{Clock: fixedClock})
	if _, err := inv.App(context.Background(), "notes"); !errors.Is(err, boom) {
		t.Errorf("App with failing history: %v", err)
	}
}

type historyFails struct {
	*fakeStates
	err error
}

func (h historyFails) StatusHistory(context.Context, string) ([]collector.StatusChange, error) {
	return nil, h.err
}

func TestGrantReaderFromUsage(t *testing.T) {
	usage, states, grants := fixture()
	withGrants := &fakeUsageWithGrants{fakeUsage: *usage, grants: grants}
	rows := allApps(t, New(loadCatalog(t), withGrants, states, Options{Clock: fixedClock}))
	if !rows["deals"].HasFlag(FlagRiskyOAuth) {
		t.Error("a UsageReader that also reads grants must be used for risky_oauth")
	}
	rows = allApps(t, New(loadCatalog(t), usage, states, Options{Clock: fixedClock}))
	if rows["deals"].HasFlag(FlagRiskyOAuth) {
		t.Error("without grants there is nothing to call risky")
	}
}

func TestNewThisWeekBoundary(t *testing.T) {
	tests := []struct {
		first string
		want  bool
	}{
		{"2026-11-25T12:00:00Z", true},
		{"2026-11-18T12:00:00Z", true}, // exactly 7 days
		{"2026-11-18T11:59:59Z", false},
		{"2026-11-26T00:00:00Z", true}, // a clock behind the evidence
	}
	for _, tt := range tests {
		first := mustTime(t, tt.first)
		usage := &fakeUsage{apps: []collector.AppUsage{{AppID: "forms", People: 1, BySource: map[collector.Source]int64{collector.SourceDNS: 1}, FirstSeen: first, LastSeen: first}}}
		rows := allApps(t, New(loadCatalog(t), usage, &fakeStates{}, Options{Clock: fixedClock}))
		if got := rows["forms"].HasFlag(FlagNewThisWeek); got != tt.want {
			t.Errorf("first seen %s: new_this_week %v, want %v", tt.first, got, tt.want)
		}
	}
}

func TestPeople(t *testing.T) {
	people, err := newFixture(t).People(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, p := range people {
		emails = append(emails, p.Email)
	}
	if want := []string{"ann@acme.example", "bob@acme.example", "zoe@acme.example"}; !slices.Equal(emails, want) {
		t.Fatalf("people %v, want %v (merged by lowercase email, no empty email)", emails, want)
	}
	ann := people[0]
	wantApps := []PersonApp{{"chat", "Chatter"}, {"custom-tool", "custom-tool"}, {"notes", "NoteDocs"}, {"board", "Whiteboard"}}
	if !slices.Equal(ann.Apps, wantApps) {
		t.Errorf("ann's apps %v, want %v", ann.Apps, wantApps)
	}
	if !slices.Equal(ann.Devices, []string{"dev-1", "dev-2"}) {
		t.Errorf("ann's devices %v", ann.Devices)
	}
	if !ann.FirstSeen.Equal(day("2026-01-01")) || !ann.LastSeen.Equal(day("2026-11-24")) {
		t.Errorf("ann seen %v .. %v", ann.FirstSeen, ann.LastSeen)
	}
	if bob := people[1]; bob.Apps == nil || bob.Devices == nil {
		t.Errorf("bob's empty lists must be empty, not null: %+v", bob)
	}
}

func TestUnknownDomainCandidates(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		k      int
		want   []DomainCount
	}{
		{"below the threshold is never shown", map[string]int{"a.example": 2, "b.example": 1}, 3, nil},
		{"at the threshold is shown", map[string]int{"a.example": 3, "b.example": 2}, 3, []DomainCount{{"a.example", 3}}},
		{"most devices first, then by name", map[string]int{"c.example": 4, "b.example": 9, "a.example": 4}, 3,
			[]DomainCount{{"b.example", 9}, {"a.example", 4}, {"c.example", 4}}},
		{"spellings merge, keeping the larger count", map[string]int{"A.example.": 2, "a.example": 3, " ": 10}, 3, []DomainCount{{"a.example", 3}}},
		{"k below 1 means the default", map[string]int{"a.example": 2, "b.example": 3}, 0, []DomainCount{{"b.example", 3}}},
		{"k of 1", map[string]int{"a.example": 1}, 1, []DomainCount{{"a.example", 1}}},
		{"nothing", nil, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnknownDomainCandidates(tt.counts, tt.k); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInventoryUnknownDomains(t *testing.T) {
	usage, states, _ := fixture()
	inv := New(loadCatalog(t), usage, states, Options{KDevices: 5})
	counts := map[string]int{
		"newtool.example":   7,
		"rare.example":      4, // under this inventory's k of 5
		"chatter.example":   9, // the catalog knows it now
		"telemetry.example": 9, // noise never becomes an app
	}
	want := []DomainCount{{"newtool.example", 7}}
	if got := inv.UnknownDomains(counts); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRiskyScopesAreNamedAsTheTableNamesThem(t *testing.T) {
	got := newScopeRater(loadCatalog(t)).riskyScopes([]string{
		"MAIL.READ mail.read\tMail.Read",
		"gmail.readonly,https://www.googleapis.com/auth/gmail.readonly openid",
		"https://www.googleapis.com/auth/calendar.readonly User.Read not-a-scope",
	})
	want := []RiskyScope{
		{"Mail.Read", "Reads the signed-in user's mail."},
		{"https://www.googleapis.com/auth/gmail.readonly", "Reads every message and attachment in the mailbox."},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
