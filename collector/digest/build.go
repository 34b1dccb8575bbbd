package digest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/inventory"
	"github.com/shadowmap/shadowmap/signatures"
)

// The readers a digest is built from. They are the small slices of the
// inventory and the stores the digest needs, so a test or the preview
// command can hand in the real SQLite store and inventory without the rest
// of the collector.
type (
	// InventoryReader is *inventory.Inventory.
	InventoryReader interface {
		AllApps(ctx context.Context, q inventory.Query) ([]inventory.AppRow, error)
	}
	// SourceHealthReader is collector.SourceRunStore.
	SourceHealthReader interface {
		SourceHealth(ctx context.Context) ([]collector.SourceHealth, error)
	}
	// DeviceLister is collector.DeviceStore.
	DeviceLister interface {
		ListDevices(ctx context.Context) ([]collector.Device, error)
	}
	// GrantLister is collector.GrantStore.
	GrantLister interface {
		CurrentGrants(ctx context.Context) ([]collector.OAuthGrant, error)
	}
	// EvidenceLister is collector.EvidenceStore. The digest reads invoice
	// evidence through it: the inventory keeps spend per month only, and
	// "first invoice this week" and a renewal date need the invoice's day.
	EvidenceLister interface {
		ListEvidence(ctx context.Context, f collector.EvidenceFilter) ([]collector.Evidence, error)
	}
)

// Deps are what Build reads. Inventory is required; a nil reader leaves
// its sections empty, so a collector without devices or importers still
// gets a digest.
type Deps struct {
	Inventory InventoryReader
	Sources   SourceHealthReader
	Devices   DeviceLister
	Grants    GrantLister
	// Invoices feeds new spend and renewals; nil leaves them out.
	Invoices EvidenceLister
	// Catalog rates granted scopes; nil leaves risky grants out.
	Catalog *signatures.Catalog
}

// Thresholds of the sections, named so the text of the email and the code
// agree.
const (
	// SilentAfter is how long an agent may go without a heartbeat before
	// the digest lists it as silent.
	SilentAfter = 7 * 24 * time.Hour
	// TopSilent is how many silent agents the digest names.
	TopSilent = 10
	// RisingPercent is how much a month's spend must exceed the month
	// before to count as rising.
	RisingPercent = 20
	// RenewalWindow is how far ahead renewals are listed.
	RenewalWindow = 30 * 24 * time.Hour
	// invoiceLookback covers one annual renewal plus slack: an invoice
	// older than this cannot predict a renewal in the next 30 days.
	invoiceLookback = 400 * 24 * time.Hour
	maxInvoices     = 100_000
)

// Week is one calendar week, Monday 00:00 to the next Monday 00:00 in a
// time zone: the digest's period. A DST change makes it 167 or 169 hours.
type Week struct {
	Start, End time.Time
}

// WeekOf returns the week containing t in loc (UTC when loc is nil).
func WeekOf(t time.Time, loc *time.Location) Week {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	back := (int(t.Weekday()) + 6) % 7 // days since Monday
	y, m, d := t.Date()
	// time.Date normalises day overflow and keeps midnight across DST,
	// where adding 24h steps would not.
	return Week{
		Start: time.Date(y, m, d-back, 0, 0, 0, 0, loc),
		End:   time.Date(y, m, d-back+7, 0, 0, 0, 0, loc),
	}
}

// ParseISOWeek reads an ISO 8601 week, "2026-W48", as the week in loc.
func ParseISOWeek(s string, loc *time.Location) (Week, error) {
	bad := func(why string) (Week, error) {
		return Week{}, fmt.Errorf("week %q: %s (want YYYY-Www, e.g. 2026-W48)", s, why)
	}
	year, week, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || len(year) != 4 || len(week) != 3 || (week[0] != 'W' && week[0] != 'w') {
		return bad("malformed")
	}
	y, err := strconv.Atoi(year)
	if err != nil || y < 1 {
		return bad("bad year")
	}
	w, err := strconv.Atoi(week[1:])
	if err != nil || w < 1 || w > 53 {
		return bad("week must be 01 to 53")
	}
	if loc == nil {
		loc = time.UTC
	}
	// ISO week 1 is the week holding 4 January.
	jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, loc)
	wk := WeekOf(jan4, loc)
	start := wk.Start.AddDate(0, 0, 7*(w-1))
	if gy, gw := start.ISOWeek(); gy != y || gw != w {
		return bad(fmt.Sprintf("%d has no week %d", y, w))
	}
	return WeekOf(start, loc), nil
}

// lastFullWeek is the last whole week before the one holding now: the
// week a digest sent now reports on.
func lastFullWeek(now time.Time, loc *time.Location) Week {
	return WeekOf(WeekOf(now, loc).Start.AddDate(0, 0, -1), loc)
}

// ISO names the week as ISO 8601 does, "2026-W48".
func (w Week) ISO() string {
	y, n := w.Start.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, n)
}

// Contains reports whether t falls in the week.
func (w Week) Contains(t time.Time) bool {
	return !t.Before(w.Start) && t.Before(w.End)
}

// Digest is one week's findings, ranked, before rendering.
type Digest struct {
	Week
	// Now is when the digest was built: renewals, rising spend and sensor
	// health are measured from it, not from the week, so a preview of a
	// past week still shows today's renewals and silent agents.
	Now time.Time

	// NewApps were first seen in the week, most people first.
	NewApps []AppLine
	// OutsideIdP are every app flagged outside the IdP, most people
	// first. It is the standing list, not news: it alone never makes a
	// week non-empty.
	OutsideIdP []AppLine
	// RiskyGrants are OAuth grants made in the week with a high-risk
	// scope, one line per app (or unknown client).
	RiskyGrants []GrantLine
	// NewSpend are apps whose first invoice fell in the week; RisingSpend
	// those whose last full month cost at least RisingPercent more than
	// the month before.
	NewSpend    []SpendLine
	RisingSpend []SpendLine
	// Renewals are expected within RenewalWindow, soonest first.
	Renewals []RenewalLine
	// SilentAgents are the TopSilent longest-silent agents; SilentCount
	// counts them all.
	SilentAgents []DeviceLine
	SilentCount  int
	// FailingSources are importers whose last run failed.
	FailingSources []SourceLine
}

// AppLine is one app in the new-apps and outside-IdP sections.
type AppLine struct {
	ID, Name  string
	People    int
	Devices   int
	FirstSeen time.Time
	// Sources are how the app was found, in collector.Sources order.
	Sources   []collector.Source
	InsideIdP bool
	// SSO and SCIM are yes/no/partial/unknown (SCIM also paused,
	// idp-only) with the plan tier that has them, from the catalog.
	SSO, SSOTier   string
	SCIM, SCIMTier string
	NextStep       string
}

// GrantLine is the new risky grants to one app or unknown client.
type GrantLine struct {
	// AppID is "" for a client the catalog does not know.
	AppID    string
	Name     string
	ClientID string
	Provider string
	// People granted it this week.
	People []string
	// Scopes are the high-risk scopes granted, as the scope table names
	// them, with the table's reason.
	Scopes     []inventory.RiskyScope
	FirstGrant time.Time
}

// SpendLine is one app's spend in one currency.
type SpendLine struct {
	AppID, Name string
	Currency    string
	// Cents is the new spend this week, or the last full month's.
	Cents int64
	// PrevCents and Month/PrevMonth are set on rising spend.
	PrevCents        int64
	Month, PrevMonth string
	// Percent is the rise over the month before.
	Percent int
	// FirstInvoice is the day of the first invoice (new spend).
	FirstInvoice time.Time
}

// Cadence is how often an app appears to bill.
type Cadence string

const (
	Monthly Cadence = "monthly"
	Annual  Cadence = "annual"
)

// RenewalLine is an expected renewal.
type RenewalLine struct {
	AppID, Name string
	Cadence     Cadence
	LastInvoice time.Time
	Next        time.Time
	Currency    string
	Cents       int64 // the last invoice's amount
}

// DeviceLine is a silent agent.
type DeviceLine struct {
	ID, Hostname, Owner string
	LastSeen            time.Time
}

// SourceLine is a failing importer.
type SourceLine struct {
	Source      string
	Error       string
	LastSuccess time.Time
	Failures    int64
}

// Empty reports whether nothing happened that the week's email is about:
// no new apps, grants, spend, renewals or sensor trouble. The standing
// outside-IdP list does not count, or no week would ever be empty.
func (d Digest) Empty() bool {
	return len(d.NewApps) == 0 && len(d.RiskyGrants) == 0 && len(d.NewSpend) == 0 &&
		len(d.RisingSpend) == 0 && len(d.Renewals) == 0 && d.SilentCount == 0 && len(d.FailingSources) == 0
}

// Build reads the inventory and stores and ranks the week's findings.
func Build(ctx context.Context, deps Deps, week Week, now time.Time) (Digest, error) {
	if deps.Inventory == nil {
		return Digest{}, errors.New("digest: no inventory")
	}
	if !week.Start.Before(week.End) {
		return Digest{}, fmt.Errorf("digest: empty week %v to %v", week.Start, week.End)
	}
	d := Digest{Week: week, Now: now}
	rows, err := deps.Inventory.AllApps(ctx, inventory.Query{Sort: inventory.SortPeople})
	if err != nil {
		return Digest{}, fmt.Errorf("digest: inventory: %w", err)
	}
	names := make(map[string]string, len(rows))
	for _, r := range rows {
		names[r.ID] = r.Name
		if week.Contains(r.FirstSeen) {
			d.NewApps = append(d.NewApps, appLine(r))
		}
		if r.HasFlag(inventory.FlagOutsideIdP) {
			d.OutsideIdP = append(d.OutsideIdP, appLine(r))
		}
	}
	sortApps(d.NewApps)
	sortApps(d.OutsideIdP)
	d.RisingSpend = risingSpend(rows, now)

	if deps.Grants != nil && deps.Catalog != nil {
		grants, err := deps.Grants.CurrentGrants(ctx)
		if err != nil {
			return Digest{}, fmt.Errorf("digest: grants: %w", err)
		}
		d.RiskyGrants = riskyGrants(grants, deps.Catalog, names, week)
	}
	if deps.Invoices != nil {
		ev, err := deps.Invoices.ListEvidence(ctx, collector.EvidenceFilter{
			Source: collector.SourceInvoice, Since: now.Add(-invoiceLookback), Limit: maxInvoices,
		})
		if err != nil {
			return Digest{}, fmt.Errorf("digest: invoices: %w", err)
		}
		inv := invoicesByApp(ev)
		d.NewSpend = newSpend(inv, names, week)
		d.Renewals = renewals(inv, names, now)
	}
	if deps.Devices != nil {
		devices, err := deps.Devices.ListDevices(ctx)
		if err != nil {
			return Digest{}, fmt.Errorf("digest: devices: %w", err)
		}
		d.SilentAgents, d.SilentCount = silentAgents(devices, now)
	}
	if deps.Sources != nil {
		health, err := deps.Sources.SourceHealth(ctx)
		if err != nil {
			return Digest{}, fmt.Errorf("digest: source health: %w", err)
		}
		for _, h := range health {
			if h.LastError != "" {
				d.FailingSources = append(d.FailingSources, SourceLine{Source: h.Source, Error: h.LastError, LastSuccess: h.LastSuccess, Failures: h.Failures})
			}
		}
	}
	return d, nil
}

func appLine(r inventory.AppRow) AppLine {
	l := AppLine{
		ID: r.ID, Name: r.Name, People: r.People, Devices: r.Devices, FirstSeen: r.FirstSeen, InsideIdP: r.InsideIdP,
		SSO: r.Readiness.SSO, SSOTier: r.Readiness.SSOTier, SCIM: r.Readiness.SCIM, SCIMTier: r.Readiness.SCIMTier,
		NextStep: r.Readiness.NextStep,
	}
	if l.Name == "" {
		l.Name = r.ID
	}
	for _, src := range collector.Sources() {
		if r.Evidence[src] > 0 {
			l.Sources = append(l.Sources, src)
		}
	}
	return l
}

// sortApps ranks by people, then devices, then name, so equal counts come
// out the same every week.
func sortApps(l []AppLine) {
	slices.SortStableFunc(l, func(a, b AppLine) int {
		return cmp.Or(cmp.Compare(b.People, a.People), cmp.Compare(b.Devices, a.Devices),
			strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.ID, b.ID))
	})
}

// riskyGrants groups the week's new grants with a high-risk scope by app,
// or by provider and client id when the catalog does not know the client.
func riskyGrants(grants []collector.OAuthGrant, c *signatures.Catalog, names map[string]string, week Week) []GrantLine {
	byKey := map[string]*GrantLine{}
	var order []string
	for _, g := range grants {
		if !week.Contains(g.GrantedAt) {
			continue
		}
		var risky []inventory.RiskyScope
		for _, scope := range g.Scopes {
			if s := c.ScopeRisk(g.Provider, scope); s != nil && s.Level == "high" {
				risky = append(risky, inventory.RiskyScope{Scope: s.Scope, Reason: s.Reason})
			}
		}
		if len(risky) == 0 {
			continue
		}
		key := "app:" + g.AppID
		if g.AppID == "" {
			key = "client:" + g.Provider + ":" + g.ClientID
		}
		l := byKey[key]
		if l == nil {
			name := names[g.AppID]
			if name == "" {
				name = cmp.Or(g.Name, g.AppID, g.ClientID)
			}
			l = &GrantLine{AppID: g.AppID, Name: name, ClientID: g.ClientID, Provider: g.Provider, FirstGrant: g.GrantedAt}
			byKey[key] = l
			order = append(order, key)
		}
		if !slices.Contains(l.People, g.Person) {
			l.People = append(l.People, g.Person)
		}
		for _, s := range risky {
			if !slices.ContainsFunc(l.Scopes, func(r inventory.RiskyScope) bool { return r.Scope == s.Scope }) {
				l.Scopes = append(l.Scopes, s)
			}
		}
		if g.GrantedAt.Before(l.FirstGrant) {
			l.FirstGrant = g.GrantedAt
		}
	}
	out := make([]GrantLine, 0, len(order))
	for _, k := range order {
		l := byKey[k]
		slices.Sort(l.People)
		slices.SortFunc(l.Scopes, func(a, b inventory.RiskyScope) int { return strings.Compare(a.Scope, b.Scope) })
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b GrantLine) int {
		return cmp.Or(cmp.Compare(len(b.People), len(a.People)), strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			strings.Compare(a.ClientID, b.ClientID))
	})
	return out
}

// risingSpend compares each app's last full month before now with the
// month before, per currency: two currencies are never added up. Months
// are UTC, as the store books spend. The month comes from now rather than
// the row's LastMonth so a digest built for another time is consistent.
func risingSpend(rows []inventory.AppRow, now time.Time) []SpendLine {
	now = now.UTC()
	last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	lastMonth, prevMonth := last.Format("2006-01"), last.AddDate(0, -1, 0).Format("2006-01")
	var out []SpendLine
	for _, r := range rows {
		cur, prev := monthCents(r.Spend, lastMonth), monthCents(r.Spend, prevMonth)
		for _, ccy := range slices.Sorted(maps.Keys(cur)) {
			c, p := cur[ccy], prev[ccy]
			// 100*c >= (100+RisingPercent)*p in integers: no rounding
			// decides a borderline month.
			if p <= 0 || c*100 < p*(100+RisingPercent) {
				continue
			}
			out = append(out, SpendLine{AppID: r.ID, Name: cmp.Or(r.Name, r.ID), Currency: ccy, Cents: c, PrevCents: p,
				Month: lastMonth, PrevMonth: prevMonth, Percent: int((c - p) * 100 / p)})
		}
	}
	slices.SortStableFunc(out, func(a, b SpendLine) int {
		return cmp.Or(cmp.Compare(b.Percent, a.Percent), strings.Compare(a.Name, b.Name), strings.Compare(a.Currency, b.Currency))
	})
	return out
}

func monthCents(series []inventory.MonthSpend, month string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range series {
		if m.Month == month {
			for _, a := range m.Amounts {
				out[a.Currency] += a.Cents
			}
		}
	}
	return out
}

// invoice is one invoice or receipt: its day and amount.
type invoice struct {
	day      time.Time
	currency string
	cents    int64
}

// invoicesByApp turns invoice evidence into invoices per app, oldest
// first. The day is the evidence's Day (the invoice date the importer
// read) when it is one, else when the mail was seen.
func invoicesByApp(ev []collector.Evidence) map[string][]invoice {
	out := map[string][]invoice{}
	for _, e := range ev {
		if e.AmountCents <= 0 || e.AppID == "" {
			continue
		}
		day, err := time.Parse(time.DateOnly, e.Day)
		if err != nil {
			day = e.FirstSeen.UTC()
		}
		out[e.AppID] = append(out[e.AppID], invoice{day: day, currency: strings.ToUpper(e.Currency), cents: e.AmountCents})
	}
	for _, l := range out {
		slices.SortStableFunc(l, func(a, b invoice) int { return a.day.Compare(b.day) })
	}
	return out
}

// newSpend lists apps whose first invoice in the lookback fell in the
// week, with the week's total per currency. Invoice days are UTC dates, so
// the week is compared by date, not by instant.
func newSpend(byApp map[string][]invoice, names map[string]string, week Week) []SpendLine {
	first, end := dateOf(week.Start), dateOf(week.End)
	var out []SpendLine
	for _, id := range slices.Sorted(maps.Keys(byApp)) {
		l := byApp[id]
		if l[0].day.Before(first) || !l[0].day.Before(end) {
			continue
		}
		sums := map[string]int64{}
		for _, in := range l {
			if !in.day.Before(first) && in.day.Before(end) {
				sums[in.currency] += in.cents
			}
		}
		for _, ccy := range slices.Sorted(maps.Keys(sums)) {
			out = append(out, SpendLine{AppID: id, Name: cmp.Or(names[id], id), Currency: ccy, Cents: sums[ccy], FirstInvoice: l[0].day})
		}
	}
	slices.SortStableFunc(out, func(a, b SpendLine) int {
		return cmp.Or(cmp.Compare(b.Cents, a.Cents), strings.Compare(a.Name, b.Name))
	})
	return out
}

// dateOf is t's calendar date in its own zone, as a UTC midnight, to
// compare with invoice days.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// renewals predicts the next invoice from the last two. The rule is kept
// simple on purpose, since it only has to say "look at this soon":
//   - the last two invoices 25 to 35 days apart: monthly, next is the last
//     plus one month;
//   - 330 to 400 days apart, or a single invoice with none in the 45 days
//     since (a monthly plan would have billed again): annual, next is the
//     last plus one year;
//   - anything else (weekly, usage-based, irregular): no prediction.
//
// A renewal is listed when its date falls from today to RenewalWindow
// ahead; a predicted date already past is left out, since the renewal
// either happened (and its invoice will show) or the plan was cancelled.
func renewals(byApp map[string][]invoice, names map[string]string, now time.Time) []RenewalLine {
	today := dateOf(now)
	until := today.Add(RenewalWindow)
	var out []RenewalLine
	for _, id := range slices.Sorted(maps.Keys(byApp)) {
		l := byApp[id]
		last := l[len(l)-1]
		var cadence Cadence
		if len(l) >= 2 {
			gap := last.day.Sub(l[len(l)-2].day) / (24 * time.Hour)
			switch {
			case gap >= 25 && gap <= 35:
				cadence = Monthly
			case gap >= 330 && gap <= 400:
				cadence = Annual
			}
		} else if today.Sub(last.day) > 45*24*time.Hour {
			cadence = Annual
		}
		var next time.Time
		switch cadence {
		case Monthly:
			next = last.day.AddDate(0, 1, 0)
		case Annual:
			next = last.day.AddDate(1, 0, 0)
		default:
			continue
		}
		if next.Before(today) || next.After(until) {
			continue
		}
		out = append(out, RenewalLine{AppID: id, Name: cmp.Or(names[id], id), Cadence: cadence, LastInvoice: last.day,
			Next: next, Currency: last.currency, Cents: last.cents})
	}
	slices.SortStableFunc(out, func(a, b RenewalLine) int {
		return cmp.Or(a.Next.Compare(b.Next), strings.Compare(a.Name, b.Name))
	})
	return out
}

// silentAgents are enrolled, not revoked agents without a heartbeat for
// SilentAfter, longest silent first. An agent that never reported counts
// from its enrolment.
func silentAgents(devices []collector.Device, now time.Time) ([]DeviceLine, int) {
	var out []DeviceLine
	for _, dev := range devices {
		if dev.Revoked {
			continue
		}
		seen := dev.LastSeenAt
		if seen.IsZero() {
			seen = dev.EnrolledAt
		}
		if now.Sub(seen) <= SilentAfter {
			continue
		}
		out = append(out, DeviceLine{ID: dev.ID, Hostname: cmp.Or(dev.Hostname, dev.ID), Owner: dev.OwnerEmail, LastSeen: seen})
	}
	slices.SortStableFunc(out, func(a, b DeviceLine) int {
		return cmp.Or(a.LastSeen.Compare(b.LastSeen), strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.ID, b.ID))
	})
	n := len(out)
	if len(out) > TopSilent {
		out = out[:TopSilent]
	}
	return out, n
}
