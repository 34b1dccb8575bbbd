package inventory

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/signatures"
)

// The store has its own contract tests; here small in-memory readers feed
// the inventory exactly the aggregates a store would return.

type fakeUsage struct {
	apps   []collector.AppUsage
	people []collector.PersonUsage
	err    error
}

func (f *fakeUsage) AppUsage(context.Context) ([]collector.AppUsage, error) {
	return f.apps, f.err
}

func (f *fakeUsage) PeopleUsage(context.Context) ([]collector.PersonUsage, error) {
	return f.people, f.err
}

// fakeUsageWithGrants is a store that also answers OAuthGrantDetails, as
// the proposed UsageStore addition would.
type fakeUsageWithGrants struct {
	fakeUsage
	grants map[string][]string
}

func (f *fakeUsageWithGrants) OAuthGrantDetails(context.Context) (map[string][]string, error) {
	return f.grants, f.err
}

type fakeGrants map[string][]string

func (f fakeGrants) OAuthGrantDetails(context.Context) (map[string][]string, error) {
	return f, nil
}

type fakeStates struct {
	states  map[string]collector.AppState
	history map[string][]collector.StatusChange
	err     error
}

func (f *fakeStates) AppStates(context.Context) (map[string]collector.AppState, error) {
	return f.states, f.err
}

func (f *fakeStates) StatusHistory(_ context.Context, id string) ([]collector.StatusChange, error) {
	return f.history[id], f.err
}

// fixtureNow is the fixed clock: the last full month is 2026-10 and
// "this week" starts 2026-11-18T12:00Z.
var fixtureNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixtureNow }

func loadCatalog(t testing.TB) *signatures.Catalog {
	t.Helper()
	c, err := signatures.Load(os.DirFS("testdata/catalog"))
	if err != nil {
		t.Fatalf("load fixture catalog: %v", err)
	}
	return c
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture is one company's evidence and decisions, chosen so every flag
// and every kind of next step shows up in at least one row.
func fixture() (*fakeUsage, *fakeStates, fakeGrants) {
	usage := &fakeUsage{
		apps: []collector.AppUsage{
			{ // used widely outside the IdP, paid for, three spellings of two tenants
				AppID: "chat", People: 40, Devices: 45,
				BySource:  map[collector.Source]int64{collector.SourceDNS: 900, collector.SourceSNI: 700, collector.SourceInvoice: 3, collector.SourceManual: 0},
				Tenants:   []string{"acme", "Acme-EU", "acme", " "},
				FirstSeen: day("2026-06-01"), LastSeen: day("2026-11-24").Add(15 * time.Hour),
				SpendCents: map[string]map[string]int64{
					"2026-09": {"USD": 60000},
					"2026-10": {"USD": 120000, "eur": 5000, "EUR": 2500},
					"2026-11": {"USD": 120000},
				},
			},
			{ // inside Okta with SCIM, new this week, risky OAuth grant
				AppID: "notes", People: 12, Devices: 10,
				BySource:  map[collector.Source]int64{collector.SourceOAuthGrant: 12, collector.SourceSSOLogin: 30, collector.SourceIdPApp: 1},
				FirstSeen: day("2026-11-20"), LastSeen: day("2026-11-25"),
			},
			{ // inside Entra, no SCIM
				AppID: "board", People: 8, Devices: 9,
				BySource:  map[collector.Source]int64{collector.SourceDNS: 80, collector.SourceIdPApp: 1},
				FirstSeen: day("2026-03-02"), LastSeen: day("2026-11-23"),
			},
			{ // no SSO at all, a couple of people
				AppID: "forms", People: 2, Devices: 2,
				BySource:  map[collector.Source]int64{collector.SourceDNS: 5, collector.SourceSignupEmail: 2},
				FirstSeen: day("2026-10-01"), LastSeen: day("2026-11-02"),
			},
			{ // inside an IdP only by evidence, no identity facts
				AppID: "mystery", People: 3,
				BySource:  map[collector.Source]int64{collector.SourceSSOLogin: 9},
				FirstSeen: day("2026-09-09"), LastSeen: day("2026-11-10"),
			},
			{ // idp-only SCIM, inside the IdP that provisions it
				AppID: "vpn", People: 30, Devices: 31,
				BySource:  map[collector.Source]int64{collector.SourceDNS: 3000, collector.SourceIdPApp: 1},
				FirstSeen: day("2026-01-15"), LastSeen: day("2026-11-25"),
			},
			{ // only paid for, in pounds
				AppID:     "mailer",
				BySource:  map[collector.Source]int64{collector.SourceInvoice: 2},
				FirstSeen: day("2026-08-01"), LastSeen: day("2026-10-01"),
				SpendCents: map[string]map[string]int64{"2026-10": {"GBP": 9900}, "2026-08": {"GBP": 9900}},
			},
			{ // SSO on every plan, risky Graph permission
				AppID: "deals", People: 5, Devices: 5,
				BySource:  map[collector.Source]int64{collector.SourceOAuthGrant: 5},
				Tenants:   []string{"acme"},
				FirstSeen: day("2026-11-19"), LastSeen: day("2026-11-21"),
			},
			{ // an app the catalog does not know, entered by IT
				AppID: "custom-tool", People: 1,
				BySource:  map[collector.Source]int64{collector.SourceManual: 1},
				FirstSeen: day("2026-02-01"), LastSeen: day("2026-02-01"),
			},
		},
		people: []collector.PersonUsage{
			{Email: "zoe@acme.example", Apps: []string{"vpn", "chat"}, Devices: []string{"dev-9"}, FirstSeen: day("2026-01-15"), LastSeen: day("2026-11-25")},
			{Email: "Ann@Acme.example", Apps: []string{"notes", "chat", "custom-tool"}, Devices: []string{"dev-2", "dev-1"}, FirstSeen: day("2026-02-01"), LastSeen: day("2026-11-20")},
			{Email: "ann@acme.example", Apps: []string{"board", "chat"}, Devices: []string{"dev-1"}, FirstSeen: day("2026-01-01"), LastSeen: day("2026-11-24")},
			{Email: "", Apps: []string{"chat"}, Devices: []string{"dev-7"}},
			{Email: "bob@acme.example", FirstSeen: day("2026-05-05"), LastSeen: day("2026-05-05")},
		},
	}
	states := &fakeStates{
		states: map[string]collector.AppState{
			"notes":       {AppID: "notes", Status: collector.StatusApproved, By: "it@acme.example", Why: "company wiki", At: day("2026-11-21"), InsideIdP: "okta"},
			"board":       {AppID: "board", Status: collector.StatusTolerated, By: "it@acme.example", Why: "design team only", At: day("2026-10-10"), InsideIdP: "entra"},
			"vpn":         {AppID: "vpn", Status: collector.StatusApproved, By: "sec@acme.example", At: day("2026-02-01"), InsideIdP: "okta"},
			"forms":       {AppID: "forms", Status: collector.StatusNotPermitted, By: "sec@acme.example", Why: "stores customer data", At: day("2026-11-03")},
			"custom-tool": {AppID: "custom-tool", Status: collector.StatusApproved, By: "it@acme.example", At: day("2026-02-02"), InsideIdP: "manual"},
			// state only: no evidence at all
			"design": {AppID: "design", Status: collector.StatusIgnored, By: "it@acme.example", Why: "retired", At: day("2026-04-04")},
			// only marked inside an IdP, never reviewed
			"chat-old": {AppID: "chat-old", InsideIdP: ""},
		},
		history: map[string][]collector.StatusChange{
			"notes": {
				{AppID: "notes", From: collector.StatusUnreviewed, To: collector.StatusTolerated, By: "it@acme.example", At: day("2026-11-20")},
				{AppID: "notes", From: collector.StatusTolerated, To: collector.StatusApproved, By: "it@acme.example", Why: "company wiki", At: day("2026-11-21")},
			},
		},
	}
	grants := fakeGrants{
		"notes": {"openid email https://www.googleapis.com/auth/drive", "openid https://www.googleapis.com/auth/calendar.readonly"},
		"deals": {"User.Read,Mail.Read", "gmail.readonly"},
		"chat":  {"openid"},
	}
	return usage, states, grants
}

func newFixture(t testing.TB) *Inventory {
	usage, states, grants := fixture()
	return New(loadCatalog(t), usage, states, Options{Clock: fixedClock, Grants: grants})
}
