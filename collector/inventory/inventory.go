package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/signatures"
)

// UsageReader is the part of collector.UsageStore the inventory reads.
type UsageReader interface {
	AppUsage(ctx context.Context) ([]collector.AppUsage, error)
	PeopleUsage(ctx context.Context) ([]collector.PersonUsage, error)
}

// StateReader is the read side of collector.AppStateStore.
type StateReader interface {
	AppStates(ctx context.Context) (map[string]collector.AppState, error)
	StatusHistory(ctx context.Context, appID string) ([]collector.StatusChange, error)
}

// GrantReader reports what was granted to apps over OAuth, for the
// risky_oauth flag. It is a proposed addition to collector.UsageStore:
// OAuthGrantDetails returns, per app id, the distinct Detail strings of the
// app's oauth_grant evidence (each a space-separated list of scopes). The
// inventory splits and rates them, so the store stays a plain query:
//
//	SELECT DISTINCT app_id, detail FROM evidence WHERE source = 'oauth_grant'
type GrantReader interface {
	OAuthGrantDetails(ctx context.Context) (map[string][]string, error)
}

// DefaultKDevices is how many devices must have seen an unknown domain
// before the collector shows it (the design's privacy threshold).
const DefaultKDevices = 3

// Options tune an Inventory. The zero value works.
type Options struct {
	// Clock returns the current time; time.Now when nil. It decides the
	// last full month of spend and new_this_week.
	Clock func() time.Time
	// CostModel prices managing an app by hand; DefaultCostModel when its
	// BasisPeople is zero.
	CostModel CostModel
	// KDevices is the unknown-domain threshold; DefaultKDevices when < 1.
	KDevices int
	// Grants supplies OAuth grant details for the risky_oauth flag. When
	// nil, the UsageReader is used if it implements GrantReader; when
	// neither does, risky_oauth is never raised.
	Grants GrantReader
	// IdP is the company's identity provider (okta, entra,
	// google_workspace, onelogin), named in the next-step sentence of
	// apps outside it. When empty, the IdP most apps are inside is used,
	// or "your IdP" when none is.
	IdP string
	// Currency is the currency the spend sort compares; USD when empty.
	Currency string
}

// Inventory answers the questions IT asks about apps and people. It is
// safe for concurrent use: every call reads the store afresh.
type Inventory struct {
	catalog  *signatures.Catalog
	usage    UsageReader
	states   StateReader
	grants   GrantReader
	now      func() time.Time
	cost     CostModel
	kDevices int
	idp      string
	currency string
	// facts holds what the catalog says about each app, prepared once.
	facts map[string]*appFacts
}

// appFacts is the catalog's view of one app, with the lowercase strings
// the text filter compares.
type appFacts struct {
	app         *signatures.App
	lowerName   string
	lowerVendor string
}

// New builds an Inventory over a catalog and the store's readers.
func New(catalog *signatures.Catalog, usage UsageReader, states StateReader, opts Options) *Inventory {
	inv := &Inventory{
		catalog:  catalog,
		usage:    usage,
		states:   states,
		grants:   opts.Grants,
		now:      opts.Clock,
		cost:     opts.CostModel,
		kDevices: opts.KDevices,
		idp:      opts.IdP,
		currency: strings.ToUpper(strings.TrimSpace(opts.Currency)),
		facts:    make(map[string]*appFacts),
	}
	if inv.grants == nil {
		if g, ok := usage.(GrantReader); ok {
			inv.grants = g
		}
	}
	if inv.now == nil {
		inv.now = time.Now
	}
	if inv.cost.BasisPeople == 0 {
		inv.cost = DefaultCostModel()
	}
	if inv.kDevices < 1 {
		inv.kDevices = DefaultKDevices
	}
	if inv.currency == "" {
		inv.currency = "USD"
	}
	if catalog != nil {
		for _, a := range catalog.Apps {
			inv.facts[a.ID] = &appFacts{app: a, lowerName: strings.ToLower(a.Name), lowerVendor: strings.ToLower(a.Vendor)}
		}
	}
	return inv
}

// Flag names something about an app that calls for IT's attention.
type Flag string

// The flags an app row may carry.
const (
	// FlagOutsideIdP: usage evidence, but the app is not inside any IdP.
	FlagOutsideIdP Flag = "outside_idp"
	// FlagSSOAvailableNotUsed: the catalog says the app supports SSO, but
	// it is not inside the IdP.
	FlagSSOAvailableNotUsed Flag = "sso_available_not_used"
	// FlagNoSCIM: inside the IdP, but the app cannot be provisioned
	// automatically (or the catalog does not know): offboarding is manual.
	FlagNoSCIM Flag = "no_scim"
	// FlagRiskyOAuth: an OAuth grant includes a scope the catalog's scope
	// table labels high risk.
	FlagRiskyOAuth Flag = "risky_oauth"
	// FlagPaidOutsideIdP: invoices or receipts, and not inside any IdP.
	FlagPaidOutsideIdP Flag = "paid_outside_idp"
	// FlagNewThisWeek: first seen within the last 7 days.
	FlagNewThisWeek Flag = "new_this_week"
	// FlagMultipleTenants: more than one tenant of the same app.
	FlagMultipleTenants Flag = "multiple_tenants"
)

// Flags lists every flag, in the order rows show them.
func Flags() []Flag {
	return []Flag{FlagOutsideIdP, FlagSSOAvailableNotUsed, FlagNoSCIM, FlagRiskyOAuth, FlagPaidOutsideIdP, FlagNewThisWeek, FlagMultipleTenants}
}

// Valid reports whether f is a known flag.
func (f Flag) Valid() bool {
	for _, v := range Flags() {
		if f == v {
			return true
		}
	}
	return false
}

// FlagNote is a flag and the one line that explains it for this app.
type FlagNote struct {
	Flag Flag   `json:"flag"`
	Why  string `json:"why"`
}

// Money is an amount in one currency.
type Money struct {
	Currency string `json:"currency"` // ISO 4217, upper case
	Cents    int64  `json:"cents"`
}

// MonthSpend is what was paid for an app in one month, per currency.
type MonthSpend struct {
	Month   string  `json:"month"` // YYYY-MM
	Amounts []Money `json:"amounts"`
}

// RiskyScope is a granted OAuth scope the scope table labels high risk,
// named as the table names it.
type RiskyScope struct {
	Scope  string `json:"scope"`
	Reason string `json:"reason"`
}

// AppRow is one app in the inventory.
type AppRow struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Vendor   string `json:"vendor,omitempty"`
	Category string `json:"category,omitempty"`
	// InCatalog is false for app ids the catalog does not know (an app
	// dropped from the catalog, or entered by hand): name is then the id.
	InCatalog bool `json:"in_catalog"`

	People  int `json:"people"`
	Devices int `json:"devices"`
	// Evidence counts the evidence per source; sources with none are left
	// out.
	Evidence  map[collector.Source]int64 `json:"evidence,omitempty"`
	FirstSeen time.Time                  `json:"first_seen,omitzero"`
	LastSeen  time.Time                  `json:"last_seen,omitzero"`
	// Tenants are the distinct tenants seen, lowercase and sorted.
	Tenants []string `json:"tenants,omitempty"`

	// Spend is what was paid per month, oldest first.
	Spend []MonthSpend `json:"spend,omitempty"`
	// LastMonth is the last full month before the clock's, YYYY-MM, and
	// LastMonthSpend what was paid in it per currency.
	LastMonth      string  `json:"last_month"`
	LastMonthSpend []Money `json:"last_month_spend,omitempty"`

	// Status is IT's decision: unreviewed until someone decides.
	Status    collector.Status `json:"status"`
	StatusBy  string           `json:"status_by,omitempty"`
	StatusWhy string           `json:"status_why,omitempty"`
	StatusAt  time.Time        `json:"status_at,omitzero"`

	// InsideIdP is true when the app is configured in an IdP or IT marked
	// it so. IdP names which (okta, entra, google_workspace, manual); it
	// is empty when only evidence (an idp_app row or an SSO login) shows
	// the app is inside one.
	InsideIdP bool   `json:"inside_idp"`
	IdP       string `json:"idp,omitempty"`

	Flags       []FlagNote   `json:"flags,omitempty"`
	RiskyScopes []RiskyScope `json:"risky_scopes,omitempty"`
	Readiness   Readiness    `json:"readiness"`
}

// HasFlag reports whether the row carries f.
func (r AppRow) HasFlag(f Flag) bool {
	for _, n := range r.Flags {
		if n.Flag == f {
			return true
		}
	}
	return false
}

// AppDetail is one app's row and the history of IT's decisions about it.
// The evidence behind it is listed by the server from the evidence store.
type AppDetail struct {
	AppRow
	History []collector.StatusChange `json:"history"`
}

// Page is one page of the app list.
type Page struct {
	Apps  []AppRow `json:"apps"`
	Total int      `json:"total"` // rows matching the filter, on every page
	Page  int      `json:"page"`
	Limit int      `json:"limit"`
}

// Apps lists the apps matching q: every app with any evidence or any
// state, filtered, sorted and paged.
func (inv *Inventory) Apps(ctx context.Context, q Query) (Page, error) {
	q, matched, err := inv.matching(ctx, q)
	if err != nil {
		return Page{}, err
	}
	p := Page{Total: len(matched), Page: q.Page, Limit: q.Limit, Apps: []AppRow{}}
	start := (q.Page - 1) * q.Limit
	if start >= len(matched) {
		return p, nil
	}
	end := min(start+q.Limit, len(matched))
	p.Apps = make([]AppRow, 0, end-start)
	for _, r := range matched[start:end] {
		p.Apps = append(p.Apps, inv.finish(r))
	}
	return p, nil
}

// matching normalizes q and returns it with the rows that match its
// filters, in its order, from one read of the store.
func (inv *Inventory) matching(ctx context.Context, q Query) (Query, []*draft, error) {
	q, err := q.normalized()
	if err != nil {
		return q, nil, err
	}
	all, err := inv.rows(ctx)
	if err != nil {
		return q, nil, err
	}
	matched := all[:0]
	for _, r := range all {
		if q.matches(r) {
			matched = append(matched, r)
		}
	}
	q.sort(matched)
	return q, matched, nil
}

// App returns one app's row and status history, or an error wrapping
// collector.ErrNotFound when the app has neither evidence nor state.
func (inv *Inventory) App(ctx context.Context, id string) (AppDetail, error) {
	all, err := inv.rows(ctx)
	if err != nil {
		return AppDetail{}, err
	}
	for _, r := range all {
		if r.row.ID != id {
			continue
		}
		hist, err := inv.states.StatusHistory(ctx, id)
		if err != nil {
			return AppDetail{}, fmt.Errorf("inventory: status history of %s: %w", id, err)
		}
		if hist == nil {
			hist = []collector.StatusChange{}
		}
		return AppDetail{AppRow: inv.finish(r), History: hist}, nil
	}
	return AppDetail{}, fmt.Errorf("inventory: app %q: %w", id, collector.ErrNotFound)
}

// draft is a row before paging: the cheap fields filters and sorts need,
// and what finish needs to complete the rows of the chosen page.
type draft struct {
	row   AppRow
	facts *appFacts
	usage *collector.AppUsage
	flags flagSet
	// sortSpend orders by last month's spend: cents in the sort currency,
	// then cents in all other currencies together, so an app paid only in
	// euros still sorts above an app nobody pays for.
	sortSpend   [2]int64
	lowerTenant string // tenants joined, for the text filter
	company     string // the IdP named in the next step
}

// bySource is the draft's evidence counts per source (nil for none).
func (d *draft) bySource() map[collector.Source]int64 {
	if d.usage == nil {
		return nil
	}
	return d.usage.BySource
}

func (d *draft) identity() *signatures.Identity {
	if d.facts == nil {
		return nil
	}
	return d.facts.app.Identity
}

// rows reads the store and builds a draft per app with evidence or state.
func (inv *Inventory) rows(ctx context.Context) ([]*draft, error) {
	usage, err := inv.usage.AppUsage(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory: app usage: %w", err)
	}
	states, err := inv.states.AppStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("inventory: app states: %w", err)
	}
	var grants map[string][]string
	if inv.grants != nil {
		grants, err = inv.grants.OAuthGrantDetails(ctx)
		if err != nil {
			return nil, fmt.Errorf("inventory: oauth grants: %w", err)
		}
	}

	now := inv.now().UTC()
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01")
	company := inv.companyIdP(states)
	scopes := newScopeRater(inv.catalog)

	drafts := make([]draft, 0, len(usage)+len(states))
	seen := make(map[string]bool, len(usage))
	for i := range usage {
		u := &usage[i]
		if seen[u.AppID] {
			continue // a store returns one row per app; be safe if not
		}
		seen[u.AppID] = true
		drafts = append(drafts, inv.build(u.AppID, u, states[u.AppID], grants[u.AppID], scopes, now, lastMonth, company))
	}
	ids := make([]string, 0, len(states))
	for id := range states {
		if !seen[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		drafts = append(drafts, inv.build(id, nil, states[id], grants[id], scopes, now, lastMonth, company))
	}
	out := make([]*draft, len(drafts))
	for i := range drafts {
		out[i] = &drafts[i]
	}
	return out, nil
}

// companyIdP is the IdP named in next steps: the configured one, else the
// one most apps are inside.
func (inv *Inventory) companyIdP(states map[string]collector.AppState) string {
	if inv.idp != "" {
		return inv.idp
	}
	count := make(map[string]int)
	for _, s := range states {
		if s.InsideIdP != "" && s.InsideIdP != "manual" {
			count[s.InsideIdP]++
		}
	}
	best := ""
	for idp, n := range count {
		if n > count[best] || (n == count[best] && idp < best) {
			best = idp
		}
	}
	return best
}

func (inv *Inventory) build(id string, u *collector.AppUsage, st collector.AppState, grantDetails []string, scopes *scopeRater, now time.Time, lastMonth, company string) draft {
	d := draft{usage: u, facts: inv.facts[id], company: company}
	r := &d.row
	r.ID = id
	r.Name = id
	if f := d.facts; f != nil {
		r.Name, r.Vendor, r.Category, r.InCatalog = f.app.Name, f.app.Vendor, f.app.Category, true
	}
	r.LastMonth = lastMonth

	if u != nil {
		r.People, r.Devices = u.People, u.Devices
		r.FirstSeen, r.LastSeen = u.FirstSeen.UTC(), u.LastSeen.UTC()
		r.Tenants = distinctTenants(u.Tenants)
		if len(r.Tenants) > 0 {
			d.lowerTenant = strings.Join(r.Tenants, "\x00")
		}
		for cur, cents := range u.SpendCents[lastMonth] {
			if strings.EqualFold(strings.TrimSpace(cur), inv.currency) {
				d.sortSpend[0] += cents
			} else {
				d.sortSpend[1] += cents
			}
		}
	}

	r.Status = st.Status
	if !r.Status.Valid() {
		r.Status = collector.StatusUnreviewed
	}
	r.StatusBy, r.StatusWhy = st.By, st.Why
	if !st.At.IsZero() {
		r.StatusAt = st.At.UTC()
	}
	ev := d.bySource()
	r.IdP = st.InsideIdP
	r.InsideIdP = st.InsideIdP != "" || ev[collector.SourceIdPApp] > 0 || ev[collector.SourceSSOLogin] > 0

	r.RiskyScopes = scopes.riskyScopes(grantDetails)
	d.flags = evaluateFlags(r, ev, d.identity(), now)
	return d
}

// finish completes a row chosen for output: evidence counts, spend,
// flag explanations and readiness, which no filter or sort needs.
func (inv *Inventory) finish(d *draft) AppRow {
	r := d.row
	if u := d.usage; u != nil {
		for s, n := range u.BySource {
			if n > 0 {
				if r.Evidence == nil {
					r.Evidence = make(map[collector.Source]int64, len(u.BySource))
				}
				r.Evidence[s] = n
			}
		}
		r.LastMonthSpend = monthAmounts(u.SpendCents, r.LastMonth)
		r.Spend = spendSeries(u.SpendCents)
	}
	r.Flags = explainFlags(d.flags, &r, d.identity())
	r.Readiness = readinessFor(d.identity(), &r, d.company, inv.cost)
	return r
}

// distinctTenants lowercases, trims and dedupes tenant labels, sorted.
func distinctTenants(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	j := 0
	for i, t := range out {
		if i == 0 || t != out[j-1] {
			out[j] = t
			j++
		}
	}
	if j == 0 {
		return nil
	}
	return out[:j]
}

// monthAmounts returns one month's spend per currency, currencies upper
// case and sorted, zero amounts dropped.
func monthAmounts(spend map[string]map[string]int64, month string) []Money {
	byCur := spend[month]
	if len(byCur) == 0 {
		return nil
	}
	merged := make(map[string]int64, len(byCur))
	for cur, cents := range byCur {
		merged[strings.ToUpper(strings.TrimSpace(cur))] += cents
	}
	out := make([]Money, 0, len(merged))
	for cur, cents := range merged {
		if cents != 0 {
			out = append(out, Money{Currency: cur, Cents: cents})
		}
	}
	slices.SortFunc(out, func(a, b Money) int { return strings.Compare(a.Currency, b.Currency) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// spendSeries returns every month with spend, oldest first.
func spendSeries(spend map[string]map[string]int64) []MonthSpend {
	if len(spend) == 0 {
		return nil
	}
	months := make([]string, 0, len(spend))
	for m := range spend {
		months = append(months, m)
	}
	slices.Sort(months)
	var out []MonthSpend
	for _, m := range months {
		if amounts := monthAmounts(spend, m); amounts != nil {
			out = append(out, MonthSpend{Month: m, Amounts: amounts})
		}
	}
	return out
}

// scopeRater labels granted scopes with the catalog's scope table,
// remembering each answer for the length of one call: the same few scopes
// recur across hundreds of apps.
type scopeRater struct {
	catalog *signatures.Catalog
	high    map[string]*signatures.ScopeRisk // nil value: not high risk
}

func newScopeRater(c *signatures.Catalog) *scopeRater {
	return &scopeRater{catalog: c, high: make(map[string]*signatures.ScopeRisk)}
}

// highRisk returns the scope table's entry when it labels scope high. A
// grant detail does not say which provider granted it, so the scope is
// looked up as a Google scope and as a Graph permission: the two
// namespaces do not collide (Google scopes are URLs or short names under
// googleapis.com/auth, Graph permissions are Resource.Verb names).
func (sr *scopeRater) highRisk(scope string) *signatures.ScopeRisk {
	if s, ok := sr.high[scope]; ok {
		return s
	}
	var found *signatures.ScopeRisk
	for _, provider := range [...]string{"google", "microsoft"} {
		if s := sr.catalog.ScopeRisk(provider, scope); s != nil && s.Level == "high" {
			found = s
			break
		}
	}
	sr.high[scope] = found
	return found
}

// riskyScopes returns the high-risk scopes among an app's grant details,
// sorted, each named as the scope table writes it (mail.read granted is
// Mail.Read; gmail.readonly is https://www.googleapis.com/auth/gmail.readonly). Details are space-separated scope lists; commas separate too,
// since some admin exports list scopes that way.
func (sr *scopeRater) riskyScopes(details []string) []RiskyScope {
	if sr.catalog == nil {
		return nil
	}
	var out []RiskyScope
	for _, detail := range details {
		for scope := range strings.FieldsFuncSeq(detail, isScopeSeparator) {
			s := sr.highRisk(scope)
			if s == nil || slices.ContainsFunc(out, func(r RiskyScope) bool { return r.Scope == s.Scope }) {
				continue
			}
			out = append(out, RiskyScope{Scope: s.Scope, Reason: s.Reason})
		}
	}
	slices.SortFunc(out, func(a, b RiskyScope) int { return strings.Compare(a.Scope, b.Scope) })
	return out
}

func isScopeSeparator(r rune) bool {
	return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '\r'
}

// ErrInvalidQuery is wrapped by errors about a query that cannot be
// answered (an unknown status, flag, source or sort).
var ErrInvalidQuery = errors.New("invalid inventory query")
