package google

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	directory "google.golang.org/api/admin/directory/v1"
	reports "google.golang.org/api/admin/reports/v1"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
	"github.com/shadowmap/shadowmap/signatures"
)

// event is one event of a Reports API activity, flattened: what the
// importer keeps of it.
type event struct {
	// Key identifies the event within its source: the activity's time
	// and unique qualifier, and the event's index in the activity. It
	// keys saml evidence; token evidence is keyed by tokenEvidenceKey,
	// which exports without event ids can derive too.
	Key      string
	App      string // the activity's applicationName: token, saml
	Name     string // authorize, revoke, login_success, ...
	Person   string // lowercase email
	Time     time.Time
	ClientID string
	AppName  string
	Scopes   []string
	// SAMLApp and InitiatedBy are of saml events.
	SAMLApp     string
	InitiatedBy string
}

// flatten turns an activity into its events. It reports how many events
// it skipped because they lack what evidence needs (a time, a person).
func flatten(a *reports.Activity) (events []event, skipped int) {
	if a == nil {
		return nil, 0
	}
	var (
		when   time.Time
		idKey  string
		app    string
		person string
	)
	if a.Id != nil {
		app = a.Id.ApplicationName
		if t, err := time.Parse(time.RFC3339Nano, a.Id.Time); err == nil {
			when = t.UTC()
			idKey = when.Format(time.RFC3339Nano) + ":" + strconv.FormatInt(a.Id.UniqueQualifier, 10)
		}
	}
	if a.Actor != nil {
		person = strings.ToLower(strings.TrimSpace(a.Actor.Email))
	}
	for i, e := range a.Events {
		if e == nil {
			continue
		}
		if idKey == "" || !strings.Contains(person, "@") {
			skipped++
			continue
		}
		ev := event{Key: idKey + ":" + strconv.Itoa(i), App: app, Name: e.Name, Person: person, Time: when}
		for _, p := range e.Parameters {
			if p == nil {
				continue
			}
			switch p.Name {
			case "client_id":
				ev.ClientID = strings.TrimSpace(paramString(p))
			case "app_name":
				ev.AppName = strings.TrimSpace(paramString(p))
			case "scope":
				ev.Scopes = append(ev.Scopes, paramStrings(p)...)
			case "scope_data":
				if len(ev.Scopes) == 0 {
					ev.Scopes = append(ev.Scopes, scopeData(p)...)
				}
			case "application_name":
				ev.SAMLApp = strings.TrimSpace(paramString(p))
			case "initiated_by":
				ev.InitiatedBy = strings.TrimSpace(paramString(p))
			}
		}
		ev.Scopes = cleanScopes(ev.Scopes)
		events = append(events, ev)
	}
	return events, skipped
}

// paramString is a parameter's single value, whichever field holds it
// (integers arrive as intValue strings, decoded to int64).
func paramString(p *reports.ActivityEventsParameters) string {
	switch {
	case p.Value != "":
		return p.Value
	case p.IntValue != 0:
		return strconv.FormatInt(p.IntValue, 10)
	case p.BoolValue:
		return "true"
	case len(p.MultiValue) > 0:
		return p.MultiValue[0]
	}
	return ""
}

// paramStrings is a parameter's values: multiValue, or a single value.
func paramStrings(p *reports.ActivityEventsParameters) []string {
	if len(p.MultiValue) > 0 {
		return p.MultiValue
	}
	if p.Value != "" {
		return strings.Fields(p.Value)
	}
	return nil
}

// scopeData reads the scope names out of scope_data, for events that
// carry no plain scope list.
func scopeData(p *reports.ActivityEventsParameters) []string {
	var out []string
	for _, m := range p.MultiMessageValue {
		if m == nil {
			continue
		}
		for _, q := range m.Parameter {
			if q != nil && q.Name == "scope_name" && q.Value != "" {
				out = append(out, q.Value)
			}
		}
	}
	return out
}

// cleanScopes sorts scopes and drops blanks and repeats, so Detail and
// the stored grant are the same whatever order Google sent.
func cleanScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// batch gathers what a page of events turns into, to be stored in a few
// calls.
type batch struct {
	evidence []collector.Evidence
	// grants holds one grant per person and client, merged: people
	// authorize the same app again and again, and the store needs only
	// the first grant time, the last seen time and the latest scopes.
	grants  []collector.OAuthGrant
	grantAt map[grantKey]int
	// revokes holds the latest revoke per person and client: the store
	// applies a revoke only to a grant last seen before it, so the latest
	// one decides.
	revokes map[grantKey]event
	idpApps map[string]collector.IdPApp
}

type grantKey struct{ person, client string }

func newBatch() *batch {
	return &batch{grantAt: map[grantKey]int{}, revokes: map[grantKey]event{}, idpApps: map[string]collector.IdPApp{}}
}

// size is how many rows the batch would write at most in one call.
func (b *batch) size() int { return max(len(b.evidence), len(b.grants)) }

// addGrant adds g, merged with a grant of the same person and client.
func (b *batch) addGrant(g collector.OAuthGrant) {
	k := grantKey{g.Person, g.ClientID}
	i, ok := b.grantAt[k]
	if !ok {
		b.grantAt[k] = len(b.grants)
		b.grants = append(b.grants, g)
		return
	}
	prev := &b.grants[i]
	granted := prev.GrantedAt
	if !g.GrantedAt.IsZero() && (granted.IsZero() || g.GrantedAt.Before(granted)) {
		granted = g.GrantedAt
	}
	if !g.SeenAt.Before(prev.SeenAt) {
		*prev = g
	}
	prev.GrantedAt = granted
}

// addRevoke keeps the latest revoke of a person's grant to a client.
func (b *batch) addRevoke(e event) {
	k := grantKey{e.Person, e.ClientID}
	if prev, ok := b.revokes[k]; !ok || e.Time.After(prev.Time) {
		b.revokes[k] = e
	}
}

// add turns one event into evidence, a grant, a revoke or an IdP app.
// Events for apps the catalog does not know are not evidence; their
// grants are kept, as candidate apps.
func (b *batch) add(cat *signatures.Catalog, e event, keyPrefix string) {
	switch {
	case e.App == "token" && e.Name == "authorize":
		if e.ClientID == "" {
			return
		}
		appID := oauthApp(cat, e.ClientID, e.AppName)
		if appID != "" {
			b.evidence = append(b.evidence, collector.Evidence{
				AppID: appID, Source: collector.SourceOAuthGrant, Person: e.Person,
				Day: e.Time.Format(time.DateOnly), FirstSeen: e.Time, LastSeen: e.Time, Count: 1,
				Detail:    strings.Join(e.Scopes, " "),
				DedupeKey: tokenEvidenceKey(e.Name, appID, e.Person, e.Time),
			})
		}
		b.addGrant(collector.OAuthGrant{
			Provider: provider, Person: e.Person, ClientID: e.ClientID, AppID: appID, Name: e.AppName,
			Scopes: e.Scopes, GrantedAt: e.Time, SeenAt: e.Time,
		})
	case e.App == "token" && e.Name == "revoke":
		if e.ClientID != "" {
			b.addRevoke(e)
		}
	case e.App == "saml" && e.Name == "login_success":
		if e.SAMLApp == "" {
			return
		}
		appID, how := sources.MapApp(cat, e.SAMLApp, nil, "")
		if appID != "" {
			detail := IdP + " saml"
			if e.InitiatedBy != "" {
				detail += " " + strings.ToLower(e.InitiatedBy) + "-initiated"
			}
			b.evidence = append(b.evidence, collector.Evidence{
				AppID: appID, Source: collector.SourceSSOLogin, Person: e.Person,
				Day: e.Time.Format(time.DateOnly), FirstSeen: e.Time, LastSeen: e.Time, Count: 1,
				Detail:    detail,
				DedupeKey: string(collector.SourceSSOLogin) + ":" + keyPrefix + e.Key,
			})
		}
		prev, seen := b.idpApps[e.SAMLApp]
		if !seen || e.Time.After(prev.SeenAt) {
			b.idpApps[e.SAMLApp] = collector.IdPApp{
				IdP: IdP, ExternalID: e.SAMLApp, Name: e.SAMLApp, Protocol: "saml", Active: true,
				AppID: appID, MappedBy: how, SeenAt: e.Time,
			}
		}
	}
}

// store writes the batch: evidence, then grants, then IdP apps. Revokes
// are applied only when withRevokes, since a revoke must come after the
// grants it ends (the caller orders them). The batch is emptied.
func (b *batch) store(ctx context.Context, env *sources.Env, withRevokes bool) error {
	if _, err := env.AddEvidence(ctx, b.evidence); err != nil {
		return err
	}
	for chunk := range slices.Chunk(b.grants, storeEvery) {
		if err := env.Stores.UpsertGrants(ctx, chunk); err != nil {
			return err
		}
	}
	if len(b.idpApps) > 0 {
		apps := make([]collector.IdPApp, 0, len(b.idpApps))
		for _, a := range b.idpApps {
			apps = append(apps, a)
		}
		slices.SortFunc(apps, func(x, y collector.IdPApp) int { return strings.Compare(x.ExternalID, y.ExternalID) })
		if err := env.Stores.AddIdPApps(ctx, apps); err != nil {
			return err
		}
	}
	if withRevokes {
		if err := applyRevokes(ctx, env, b.revokes); err != nil {
			return err
		}
		clear(b.revokes)
	}
	b.evidence, b.grants = b.evidence[:0], b.grants[:0]
	clear(b.grantAt)
	clear(b.idpApps)
	return nil
}

// applyRevokes ends the revoked grants, in a stable order.
func applyRevokes(ctx context.Context, env *sources.Env, revokes map[grantKey]event) error {
	keys := slices.SortedFunc(maps.Keys(revokes), func(a, b grantKey) int {
		return cmp.Or(strings.Compare(a.person, b.person), strings.Compare(a.client, b.client))
	})
	for _, k := range keys {
		r := revokes[k]
		if err := env.Stores.RevokeGrant(ctx, provider, r.Person, r.ClientID, r.Time); err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
	}
	return nil
}

// tokenEvidenceKey is the dedupe key of a token event's evidence, the same
// whether the event came from the Reports API or from the Admin console's
// token audit CSV: the export has no event id and its times are whole
// seconds, so the key is what both carry, the event, the catalog app the
// client maps to, the second and the person. Two grants of one app by one
// person within a second are one observation either way.
//
// The SQLite store's migration 0014_google_token_keys rewrites the keys
// imports stored before to this form, from the same columns: change one
// and the other must follow.
func tokenEvidenceKey(name, appID, person string, at time.Time) string {
	return string(collector.SourceOAuthGrant) + ":google-token:" + name + ":" + appID + ":" +
		at.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z") + ":" + person
}

// oauthApp is the catalog app of an OAuth client, by client id and then
// display name; "" when the catalog does not know it.
func oauthApp(cat *signatures.Catalog, clientID, name string) string {
	if cat == nil {
		return ""
	}
	if m := cat.MatchOAuthClient(clientID, name); m.App != nil {
		return m.App.ID
	}
	return ""
}

// tokenGrant is the grant a Directory API token stands for: the user
// granted the client these scopes, and it still stands at at.
func tokenGrant(env *sources.Env, t *directory.Token, user string, at time.Time) (collector.OAuthGrant, bool) {
	if t == nil || strings.TrimSpace(t.ClientId) == "" || !strings.Contains(user, "@") {
		return collector.OAuthGrant{}, false
	}
	name := strings.TrimSpace(t.DisplayText)
	client := strings.TrimSpace(t.ClientId)
	return collector.OAuthGrant{
		Provider: provider, Person: strings.ToLower(user), ClientID: client,
		AppID: oauthApp(env.Catalog, client, name), Name: name,
		Scopes: cleanScopes(t.Scopes), SeenAt: at,
	}, true
}
