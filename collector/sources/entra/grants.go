package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shadowmap/shadowmap/collector"
	"github.com/shadowmap/shadowmap/collector/sources"
)

// checkpointGrantPeople holds the people (JSON list) who had delegated
// grants at the last run, so one whose grants were all removed is
// replaced with none and their grants revoked.
const checkpointGrantPeople = "grant_people"

// permissionGrant is a Graph oauth2PermissionGrant: a delegated grant of
// scopes on one resource API to a client service principal, by one user
// (Principal) or by an admin for everyone (AllPrincipals).
type permissionGrant struct {
	ID          string `json:"id"`
	ClientID    string `json:"clientId"`
	ConsentType string `json:"consentType"`
	PrincipalID string `json:"principalId"`
	ResourceID  string `json:"resourceId"`
	Scope       string `json:"scope"`
}

// user is the part of a Graph user the importer reads.
type user struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
}

// listUsers maps user object ids to their lowercase UPN, for this run.
func (im *Importer) listUsers(ctx context.Context, env *sources.Env, c *client) (map[string]string, error) {
	users := map[string]string{}
	q := url.Values{"$select": {"id,userPrincipalName"}, "$top": {"999"}}
	err := c.eachPage(ctx, "users", "User.Read.All (or Directory.Read.All)", im.graphURL+"/v1.0/users?"+q.Encode(), func(p page) error {
		for _, raw := range p.Value {
			var u user
			if err := json.Unmarshal(raw, &u); err != nil || u.ID == "" {
				continue
			}
			users[strings.ToLower(u.ID)] = u.UserPrincipalName
		}
		return nil
	})
	return users, err
}

// importGrants reads every delegated permission grant and keeps each
// person's Microsoft grants current. Admin consent for all users
// (AllPrincipals) says nothing about who uses the app: it is logged, not
// stored per person.
func (im *Importer) importGrants(ctx context.Context, env *sources.Env, c *client, sps *spIndex) error {
	var grants []permissionGrant
	q := url.Values{"$top": {"999"}}
	err := c.eachPage(ctx, "permission grants", "Directory.Read.All (or DelegatedPermissionGrant.Read.All)", im.graphURL+"/v1.0/oauth2PermissionGrants?"+q.Encode(), func(p page) error {
		for _, raw := range p.Value {
			env.Progress.AddEvents(1)
			var g permissionGrant
			if err := json.Unmarshal(raw, &g); err != nil || g.ID == "" {
				env.Log.Warn("entra permission grant skipped", "err", err)
				continue
			}
			grants = append(grants, g)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var users map[string]string
	if slices.ContainsFunc(grants, func(g permissionGrant) bool { return strings.EqualFold(g.ConsentType, "Principal") }) {
		env.Progress.SetStage("users")
		if users, err = im.listUsers(ctx, env, c); err != nil {
			return err
		}
		env.Progress.SetStage("permission grants")
	}
	now := env.Now()
	byPerson, ev, adminConsented := buildGrants(env, sps, users, grants, now)
	if len(adminConsented) > 0 {
		env.Log.Info("entra apps with admin consent for all users (not stored per person)", "apps", strings.Join(adminConsented, ", "))
	}
	if _, err := env.AddEvidence(ctx, ev); err != nil {
		return fmt.Errorf("entra permission grants: %w", err)
	}

	// Everyone with grants now, and everyone who had some last run: the
	// latter's stored grants are revoked if they are gone.
	people := map[string]bool{}
	for p := range byPerson {
		people[p] = true
	}
	if last, ok, err := env.Checkpoint(ctx, Name, checkpointGrantPeople); err != nil {
		return fmt.Errorf("entra permission grants: read checkpoint: %w", err)
	} else if ok {
		var before []string
		if err := json.Unmarshal([]byte(last), &before); err != nil {
			env.Log.Warn("entra grant checkpoint unreadable", "err", err)
		}
		for _, p := range before {
			people[p] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(people)) {
		if err := env.Stores.ReplacePersonGrants(ctx, Provider, p, byPerson[p], now); err != nil {
			return fmt.Errorf("entra permission grants: %w", err)
		}
	}
	current := make([]string, 0, len(byPerson))
	for p := range byPerson {
		current = append(current, p)
	}
	slices.Sort(current)
	js, err := json.Marshal(current)
	if err != nil {
		return err
	}
	if err := env.SetCheckpoint(ctx, Name, checkpointGrantPeople, string(js)); err != nil {
		return fmt.Errorf("entra permission grants: store checkpoint: %w", err)
	}
	return nil
}

// buildGrants turns the grant list into each person's grants (one per
// client app, scopes merged across resource APIs), oauth_grant evidence
// for clients the catalog knows, and the names of apps an admin
// consented to for everyone.
func buildGrants(env *sources.Env, sps *spIndex, users map[string]string, grants []permissionGrant, now time.Time) (map[string][]collector.OAuthGrant, []collector.Evidence, []string) {
	type key struct{ person, client string }
	merged := map[key]*collector.OAuthGrant{}
	var order []key
	var ev []collector.Evidence
	var admin []string
	for _, g := range grants {
		sp, known := sps.byObjectID[strings.ToLower(g.ClientID)]
		if !known || sp.AppID == "" {
			env.Log.Warn("entra grant to an unknown service principal skipped", "grant", clip(g.ID, 80))
			continue
		}
		app := sps.catalogApp(env.Catalog, sp.name(), sp.AppID)
		if app == "" && sp.microsoftOwned() {
			continue // Microsoft's own tools (Azure CLI, Graph Explorer) are not shadow IT
		}
		if strings.EqualFold(g.ConsentType, "AllPrincipals") {
			if !slices.Contains(admin, sp.name()) {
				admin = append(admin, sp.name())
			}
			continue
		}
		person, ok := personOf(users[strings.ToLower(g.PrincipalID)], "")
		if !ok {
			continue // a guest, or a user deleted since
		}
		scopes := strings.Fields(g.Scope)
		slices.Sort(scopes)
		scopes = slices.Compact(scopes)
		k := key{person, strings.ToLower(sp.AppID)}
		if m := merged[k]; m != nil {
			m.Scopes = append(m.Scopes, scopes...)
		} else {
			merged[k] = &collector.OAuthGrant{Provider: Provider, Person: person, ClientID: k.client, AppID: app, Name: sp.name(), Scopes: scopes, SeenAt: now}
			order = append(order, k)
		}
		if app != "" {
			ev = append(ev, collector.Evidence{
				AppID: app, Source: collector.SourceOAuthGrant, Person: person,
				Day: now.UTC().Format(time.DateOnly), FirstSeen: now, LastSeen: now, Count: 1,
				Detail: strings.Join(scopes, " "), DedupeKey: Name + ":" + g.ID,
			})
		}
	}
	byPerson := map[string][]collector.OAuthGrant{}
	for _, k := range order {
		g := merged[k]
		slices.Sort(g.Scopes)
		g.Scopes = slices.Compact(g.Scopes)
		byPerson[k.person] = append(byPerson[k.person], *g)
	}
	slices.Sort(admin)
	return byPerson, ev, admin
}
